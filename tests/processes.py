"""Running bacnet-pipeline commands as real processes in tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

#: The console script of the virtualenv running the tests.
COMMAND = str(Path(sys.executable).with_name("bacnet-pipeline"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited bacnet-pipeline settings, a private instance folder."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "BROKER_URL", "BACNET_ADDRESS", "BACNET_TRANSPORT", "GATEWAY_SECRET",
                          "GATEWAY_URL", "SECRET_KEY", "BROKER_NAMESPACE", "INSTANCE_DIR")}
    env.update({"INSTANCE_DIR": str(tmp_path / "instance"), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], *, input: str | None = None, timeout: float = 60,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, *args], env=env, input=input, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


class Process:
    """A long-running command with its output in a file (no pipe to fill up)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.popen = subprocess.Popen([COMMAND, *args], env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      cwd=cwd)

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}) before {pattern!r}:\n"
                                     f"{self.output[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {pattern!r} not seen within {timeout} s:\n{self.output[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the process and wait for it; kill it if it does not stop in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()
        return self.popen.returncode
