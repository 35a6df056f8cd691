"""ping: the no-op job. Its job_run timestamps measure pick-up latency; `doctor` uses it too."""

from __future__ import annotations

import os
import socket

from workers.context import WorkerContext


def ping(context: WorkerContext, *, site_id: int | None = None) -> dict:
    return {"worker": socket.gethostname(), "pid": os.getpid(), "bacnet": str(context.engine.runtime)}
