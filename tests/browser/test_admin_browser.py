"""The admin in a real browser (Debian's chromium driven by Playwright), as an operator uses it:
log in, discover the simulated site, see its devices, collect now, see readings and the trend
chart, log out. Screenshots land in tests/artifacts/ (git-ignored) for a person to look at."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.processes import Process, base_env, free_port

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Chromium flags for a closed network: no background traffic, no sandbox as root in CI.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is not installed and CI=true (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def embedded(tmp_path, loopback_block):
    """all-in-one with 3 simulated devices; yields (base URL, admin password)."""
    port = free_port()
    env = base_env(tmp_path, BACNET_ADDRESS=f"127.0.{loopback_block}.1/8:47809", BACNET_REQUEST_TIMEOUT="1")
    process = Process("all-in-one", ["all-in-one", "--simulate", "3", "--port", str(port),
                                     "--simulate-base-address", f"127.0.{loopback_block}.10"], env, tmp_path)
    password = process.wait_for(r"log in as admin / (\S+)", timeout=60).group(1)
    yield f"http://127.0.0.1:{port}", password
    assert process.stop(signal.SIGINT) == 0
    assert "Traceback" not in process.output, process.output[-3000:]


def test_operator_journey(browser, embedded):
    base, password = embedded
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("dialog", lambda dialog: dialog.accept())  # Flask-Admin asks "are you sure?" for actions
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.text} {message.location.get('url', '')}"))

    page.goto(f"{base}/admin/")
    assert "/login" in page.url
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    # Discover the simulated site from the Discover page and watch the job finish.
    page.goto(f"{base}/admin/discover/")
    page.check("#mode-site")
    page.click("#discover-start")
    page.wait_for_selector("#found-devices", timeout=30_000)
    found = page.inner_text("#found-devices")
    for name in ("AHU-1", "VAV-1", "VAV-2"):
        assert name in found

    page.goto(f"{base}/admin/device/")
    devices = page.inner_text("table.model-list")
    assert all(name in devices for name in ("AHU-1", "VAV-1", "VAV-2")) and "online" in devices

    # Collect now: select the site in the list and use the bulk action.
    page.goto(f"{base}/admin/site/")
    page.check("input.action-checkbox")
    page.click("text=With selected")
    page.click("text=Collect now")
    page.wait_for_selector("text=Collection of site", timeout=10_000)

    page.goto(f"{base}/admin/reading/")
    page.wait_for_selector("table.model-list")
    assert "Supply Air Temp" in page.inner_text("table.model-list")

    page.goto(f"{base}/admin/")
    page.wait_for_selector("#points-polled")
    assert int(page.inner_text("#points-polled")) == 36
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # The point page: current value and a trend chart drawn from the readings.
    page.goto(f"{base}/admin/point/?search=Supply+Air+Temp")
    page.click("table.model-list a[title='View Record']")
    page.wait_for_selector("#trend canvas", timeout=10_000)
    assert int(page.get_attribute("#trend", "data-loaded")) >= 1
    assert "degrees-celsius" in page.inner_text("#point-summary")
    page.click("#read-now")
    page.wait_for_selector("#read-result:has-text('Present value')", timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "point.png"), full_page=True)

    # The Content-Security-Policy allows no inline script: nothing on these pages needed one.
    assert not [line for line in console if "Content Security Policy" in line], console

    page.click("text=Log out")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/admin/device/")
    assert "/login" in page.url
