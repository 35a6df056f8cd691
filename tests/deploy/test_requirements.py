"""requirements/windows.txt installs on Windows without a compiler, and gunicorn stays off Windows."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.files import ROOT

#: Packages with compiled parts that publish Windows wheels (win_amd64, CPython 3.11+), checked on
#: PyPI when each was added. A new compiled dependency fails the test until it is checked too.
WINDOWS_WHEELS = {"psycopg2-binary", "pydantic-core", "markupsafe", "charset-normalizer", "sqlalchemy", "psutil"}
#: Pure-Python packages only Windows installs (by their markers), so they are not installed here.
WINDOWS_ONLY_PURE = {"colorama", "tzdata"}
#: What a Windows machine looks like to environment markers.
WINDOWS = {**default_environment(), "sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"}


def _requirements(path) -> list[Requirement]:
    found = []
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += _requirements(path.parent / line[3:].strip())
        else:
            found.append(Requirement(line))
    return found


def _is_pure(dist: metadata.Distribution) -> bool:
    wheel = dist.read_text("WHEEL") or ""
    return "Root-Is-Purelib: true" in wheel


def _windows_closure() -> dict[str, metadata.Distribution | None]:
    """Every distribution a Windows install of windows.txt pulls in (None: not installed here)."""
    seen: dict[str, metadata.Distribution | None] = {}
    todo = [req for req in _requirements(ROOT / "requirements" / "windows.txt")
            if req.marker is None or req.marker.evaluate(WINDOWS)]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            seen[name] = None
            continue
        seen[name] = dist
        for text in dist.requires or []:
            sub = Requirement(text)
            extras = requirement.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({**WINDOWS, "extra": extra}) for extra in extras):
                todo.append(sub)
    return seen


def test_windows_requirements_need_no_compiler():
    closure = _windows_closure()
    assert "bac0" in closure and "waitress" in closure and "psutil" in closure
    compiled = {name for name, dist in closure.items() if dist is not None and not _is_pure(dist)}
    assert compiled - WINDOWS_WHEELS == set(), "compiled packages not known to ship Windows wheels"
    missing = {name for name, dist in closure.items() if dist is None}
    assert missing <= WINDOWS_ONLY_PURE, f"not installed here, so not checked: {missing}"


def test_gunicorn_is_pinned_for_linux_and_kept_off_windows():
    requirements = {canonicalize_name(req.name): req for req in _requirements(ROOT / "requirements" / "base.txt")}
    gunicorn = requirements["gunicorn"]
    assert re.fullmatch(r"==\d+(\.\d+)+", str(gunicorn.specifier))
    assert gunicorn.marker is not None and not gunicorn.marker.evaluate(WINDOWS)
    assert gunicorn.marker.evaluate({**default_environment(), "sys_platform": "linux"})
    assert "gunicorn" not in _windows_closure()


def test_every_runtime_and_dev_requirement_is_pinned():
    for name in ("base.txt", "dev.txt", "windows.txt"):
        for requirement in _requirements(ROOT / "requirements" / name):
            assert str(requirement.specifier).startswith("=="), f"{name}: {requirement} is not pinned"
