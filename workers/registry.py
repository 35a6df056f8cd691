"""Registers the catalog's actors on a broker, bound to their implementations."""

from __future__ import annotations

import functools
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import Retries

from workers.actors import IMPLEMENTATIONS
from workers.actors.common import JobError
from workers.catalog import CATALOG
from workers.context import WorkerContext
from workers.middleware import JobRunMiddleware, report_summary


def _bind(name: str, implementation: Callable[..., dict], context: WorkerContext) -> Callable[..., None]:
    @functools.wraps(implementation)
    def run(**kwargs: object) -> None:
        with context.app.app_context():
            summary = implementation(context, **kwargs)
        # Returned through the middleware, not as the actor's result: without a results backend
        # Dramatiq would only log and drop a return value.
        report_summary(summary)

    run.__name__ = name
    return run


def register_actors(broker: dramatiq.Broker, context: WorkerContext) -> None:
    """Add the job_run middleware and one Dramatiq actor per catalog entry to ``broker``."""
    # Before Retries: after-hooks run in reverse order, so ours then sees Retries' decision.
    broker.add_middleware(JobRunMiddleware(context.app), before=Retries)
    for name, spec in CATALOG.items():
        dramatiq.Actor(
            _bind(name, IMPLEMENTATIONS[name], context),
            broker=broker, actor_name=name, queue_name=spec.queue, priority=0,
            # A JobError means the request itself cannot work (no such site, no targets):
            # retrying would fail the same way, so it fails at once.
            options={"max_retries": spec.max_retries, "time_limit": spec.time_limit_ms,
                     "min_backoff": 5000, "max_backoff": 60000, "throws": (JobError,)},
        )
