"""The in-process transport of the all-in-one mode: enqueue on this process's broker."""

from __future__ import annotations

import dramatiq

from app.transport.base import EnqueueError


class LocalTransport:
    kind = "local"

    def __init__(self, broker: dramatiq.Broker | None) -> None:
        self.broker = broker

    def send(self, message: dramatiq.Message, *, job_id: int | None = None) -> None:
        if self.broker is None:
            raise EnqueueError(
                "no worker runs in this process (local transport): set BROKER_URL to use Redis, "
                "or run bacnet-pipeline all-in-one"
            )
        self.broker.declare_queue(message.queue_name)
        self.broker.enqueue(message)
