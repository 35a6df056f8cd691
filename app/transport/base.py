"""What every transport provides, and the error callers see when a send fails."""

from __future__ import annotations

from typing import Protocol

import dramatiq


class EnqueueError(Exception):
    """The job could not be handed to a worker. ``str()`` is a reason a person understands;
    ``job_run_id`` names the ledger row that records the failure (None if none was written)."""

    def __init__(self, reason: str, job_run_id: int | None = None) -> None:
        super().__init__(reason)
        self.job_run_id = job_run_id


class Transport(Protocol):
    #: "local", "redis" or "http", as recorded on job_run.transport.
    kind: str

    def send(self, message: dramatiq.Message, *, job_id: int | None = None) -> None:
        """Hand the message over; raise EnqueueError with a readable reason on failure.

        ``job_id`` is the job_run row of the message (the http gateway reports it back)."""
