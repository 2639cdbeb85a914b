"""The console in a real browser (Debian's Chromium, driven by Playwright): set up a connection with the
simulator's keys, see Save & Test fail for a project key pasted in the Admin slot and pass with the right keys,
save, press "Sync now", and see tables and rows appear. Screenshots go to artifacts/console/. No page, response
or browser storage holds a key."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from service_support import Served, get, wait_for

from openai_sync.simulator import Simulator

CHROMIUM = os.environ.get("OPENAI_SYNC_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("OPENAI_SYNC_ARTIFACTS", Path(__file__).parent.parent / "artifacts")) / "console"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

if not shutil.which(CHROMIUM):
    if os.environ.get("OPENAI_SYNC_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it and requires these tests",
                allow_module_level=True)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_setup_save_and_test_then_sync(sim: Simulator, tmp_path: Path, browser) -> None:
    config = tmp_path / "openai-sync.toml"
    served = Served(config, DLT_DATA_DIR=str(tmp_path / "dlt")).up()
    keys = [sim.world.admin_key, *sim.world.project_keys.values()]
    seen: list[str] = []
    page = browser.new_page()
    page.on("response", lambda r: seen.append(r.text()) if r.request.resource_type == "document"
            and r.status < 300 else None)
    try:
        page.goto(served.url)
        assert "No connection yet" in page.content()
        page.click("text=Set up a connection")
        project_key = next(iter(sim.world.project_keys.values()))
        page.fill("#name", "org1")
        page.get_by_label("Destination schema").fill("openai")
        page.get_by_label("Destination", exact=True).fill(f"duckdb:///{tmp_path / 'org1.duckdb'}")
        page.get_by_label("Admin API key").fill(project_key)  # pasted in the wrong slot
        page.fill("#project_keys", "\n".join(sim.world.project_keys.values()))
        page.get_by_label("Base URL").fill(sim.base_url)
        page.click("#save-test")
        checks = page.locator("#checks")
        checks.wait_for()
        shot(page, "1-save-and-test-fails")
        assert "failed, not saved" in checks.inner_text()
        assert re.search(r"admin key\s+fail\s+.*is a project key", checks.inner_text())
        assert not config.exists() or "org1" not in config.read_text()
        assert page.locator("#save-anyway").count() == 1
        page.get_by_label("Admin API key").fill(sim.world.admin_key)
        page.click("#save-test")
        page.wait_for_url(f"{served.url}/connections/org1*")
        shot(page, "2-saved")
        assert "Every check passed" in page.content()
        assert "[connections.org1]" in config.read_text()
        page.click("#sync-now") if page.locator("#sync-now:not([disabled])").count() else None

        def users_rows() -> bool:
            page.reload()
            cell = page.locator('tr[data-table="users"] td.rows').inner_text().replace(",", "")
            return cell.isdigit() and int(cell) > 0

        wait_for(users_rows, 120, "the users table shows its rows")
        shot(page, "3-synced")
        assert page.locator('tr[data-table="audit_logs"] .status-ok').count() == 1
        page.goto(served.url + "/runs")
        assert page.locator("figure.chart rect").count() >= 2
        shot(page, "4-runs")
        page.goto(served.url + "/connections/org1/edit")
        assert "Current key: sk-admin" in page.content()
        shot(page, "5-edit-keys-masked")
        storage = page.evaluate("() => JSON.stringify([localStorage, sessionStorage, document.cookie])")
        assert storage == '[{},{},""]'  # the session cookie is HttpOnly; nothing else is kept
        runs = [r["run_id"] for r in served.api("/api/runs")["runs"]]
        for path in ("/api/connections", "/api/runs", "/metrics", "/healthz", "/connections/org1", "/runs",
                     "/connections/org1/report",
                     "/connections/org1/edit", "/connections/nope", *(f"/runs/{r}" for r in runs),
                     *(f"/api/runs/{r}" for r in runs)):
            seen.append(get(served.url + path)[2])
    finally:
        page.close()
        assert served.stop() == 0
    leaked = [k[:12] for k in keys if any(k in text for text in seen)]
    assert not leaked, f"a key is in a page or a response: {leaked}"
    log = served.log.read_text()
    assert not any(k in log for k in keys)
