"""`openai-sync report`: one self-contained HTML file from the analytics views, for DuckDB and PostgreSQL; opened
in Debian's Chromium from the file (no network), every chart has data; a screenshot goes to artifacts/report/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import NOW
from destinations_support import Dest
from test_console import ARTIFACTS, CHROMIUM, FLAGS
from test_sync import config
from typer.testing import CliRunner

from openai_sync.cli import app
from openai_sync.html_report import ReportError, build, write
from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World


def test_report_in_a_browser(dest: Dest, tmp_path: Path) -> None:
    # the medium organization has data for every chart; on PostgreSQL the small one shows the queries work
    with Simulator(World(seed=42, size="medium" if dest.kind == "duckdb" else "small", now=NOW)) as sim:
        sync(config(sim, dest, project_keys=tuple(__import__("openai_sync.api.keys").api.keys.ProjectKey(k)
                                                  for k in sim.world.project_keys.values())))
    out = tmp_path / "report.html"
    try:
        size = write(build(dest.destination, dest.schema), out)
    finally:
        if dest.kind == "postgres":
            dest.exec(f"DROP SCHEMA IF EXISTS {dest.schema}_analytics CASCADE")
    text = out.read_text()
    assert size == len(text.encode()) and "<script" not in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched: it opens offline
    charts = re.findall(r'<svg class="chart" data-points="(\d+)"', text)
    assert "Spend this month" in text and "Keys unused for 90 days" in text and "Recent sensitive events" in text
    if dest.kind != "duckdb":
        assert len(charts) >= 8
        return
    assert len(charts) >= 10 and "No data." not in text
    assert all(int(n) > 0 for n in charts)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else
                   route.continue_())  # any request beyond the file would fail the page
        page.goto(out.as_uri())
        drawn = page.evaluate("() => [...document.querySelectorAll('svg.chart')].map(s => "
                              "s.querySelectorAll('rect.bar, circle').length)")
        ARTIFACTS.parent.joinpath("report").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS.parent / "report" / "report.png"), full_page=True)
        browser.close()
    assert len(drawn) == len(charts) and all(n > 0 for n in drawn)


def test_report_refusals(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="run `openai-sync sync` first"):
        build(f"duckdb:///{tmp_path / 'none.duckdb'}", "openai")
    with pytest.raises(ReportError, match="DuckDB and PostgreSQL"):
        build("bigquery", "openai")
    r = CliRunner().invoke(app, ["report", "--destination", f"duckdb:///{tmp_path / 'none.duckdb'}", "--config",
                                 str(tmp_path / "c.toml")])
    assert r.exit_code == 2


def test_report_cli(tmp_path: Path, monkeypatch) -> None:
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        from destinations_support import Dest as D

        d = D("duckdb", tmp_path)
        sync(config(sim, d))
    (tmp_path / "c.toml").write_text("")
    r = CliRunner().invoke(app, ["report", "--config", str(tmp_path / "c.toml"), "--destination", d.destination,
                                 "--output", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.stderr
    assert "Wrote" in r.stderr and (tmp_path / "r.html").stat().st_size > 10_000


def test_report_pdf(tmp_path: Path, monkeypatch) -> None:
    """`--pdf` prints the same report with Chromium; without a browser, a sentence and exit 2, the HTML kept."""
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        from destinations_support import Dest as D

        d = D("duckdb", tmp_path)
        sync(config(sim, d))
    (tmp_path / "c.toml").write_text("")
    run = ["report", "--config", str(tmp_path / "c.toml"), "--destination", d.destination,
           "--output", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf")]
    monkeypatch.setenv("OPENAI_SYNC_CHROMIUM", str(tmp_path / "no-such-browser"))
    r = CliRunner().invoke(app, run)
    assert r.exit_code == 2 and "needs Chromium or Chrome" in r.stderr
    assert (tmp_path / "r.html").is_file() and not list(tmp_path.glob("*r.pdf*"))
    monkeypatch.setenv("OPENAI_SYNC_CHROMIUM", CHROMIUM)
    r = CliRunner().invoke(app, run)
    assert r.exit_code == 0, r.stderr
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") >= 2 and len(pdf) > 50_000
