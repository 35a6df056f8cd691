"""What an actor needs at run time: the Flask app (database) and the BACnet engine.

Set once per worker process by workers.service before the Dramatiq worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from bacnet.engine import Engine


@dataclass
class WorkerContext:
    app: Flask
    engine: Engine
