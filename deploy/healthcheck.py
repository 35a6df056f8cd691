#!/usr/local/bin/python
"""Container health check of the bacnet-pipeline image: ``bacnet-pipeline-healthcheck [ROLE] [PORT]``.

One image runs three roles, so the check takes the role as its first argument; without one it reads
the container's command line (/proc/1/cmdline) to find out. Exit 0 healthy, 1 not (one line why).

- web:       GET /healthz on 127.0.0.1:PORT (5000) answers 200 (503 means no database).
- worker:    the process still owns its BACnet socket: binding BACNET_ADDRESS's port exclusively
             fails with "in use". No packet is sent.
- scheduler: a scheduler leads and wrote its heartbeat within the last 30 seconds (a standby
             is healthy while another one leads).
- anything else (a one-shot command such as ``db upgrade``): healthy while it runs.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

#: Seconds the web check waits for /healthz.
HTTP_TIMEOUT = 5.0
#: Port the web role listens on inside the container.
DEFAULT_WEB_PORT = 5000


def detect_role(cmdline: list[str]) -> str:
    """The role of a container command line (``gunicorn ... app:create_app()`` is the web)."""
    for word in cmdline:
        name = Path(word).name
        if name == "gunicorn" or word == "web":
            return "web"
        if word in ("worker", "scheduler", "gateway"):
            return word
    return "other"


def check_web(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=HTTP_TIMEOUT) as response:
            return None if response.status == 200 else f"/healthz answered {response.status}"
    except urllib.error.HTTPError as error:
        return f"/healthz answered {error.code}"
    except OSError as error:
        return f"/healthz unreachable: {error}"


def check_worker() -> str | None:
    from app.settings import load_settings
    from bacnet.errors import BindError
    from bacnet.runtime import check_port_free

    bind = load_settings().require_bind_address()
    try:
        check_port_free(bind.host, bind.port)
    except BindError as error:
        return None if "in use" in str(error) else str(error)
    return f"nothing holds {bind.host}:{bind.port}: the worker's BACnet socket is gone"


def check_scheduler() -> str | None:
    # Through the app's own scheduler_status() (what /healthz reports), so the check follows the
    # heartbeat table wherever it goes.
    from app import create_app
    from app.extensions import db
    from app.models import scheduler_status

    app = create_app()
    with app.app_context():
        try:
            status = scheduler_status()
        finally:
            db.session.remove()
            db.engine.dispose()
    return None if status["alive"] else "no scheduler has led within the heartbeat timeout (30 s)"


def main(argv: list[str]) -> int:
    if argv:
        role = argv[0]
    else:
        role = detect_role(Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0"))
    try:
        if role == "web":
            problem = check_web(int(argv[1]) if len(argv) > 1 else DEFAULT_WEB_PORT)
        elif role in ("worker", "gateway"):
            problem = check_worker()
        elif role == "scheduler":
            problem = check_scheduler()
        else:
            problem = None
    except Exception as error:  # a health check reports, it never crashes with a traceback
        problem = f"{type(error).__name__}: {error}"
    print(f"{role}: {problem or 'healthy'}")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
