"""The service's pure parts: schedules, backoff, passwords, the Host check, Prometheus labels, and which Save &
Test changes are regressions."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_sync.config import ConfigError, Settings, parse_frequency
from openai_sync.service import schedule
from openai_sync.service.alerts import worse
from openai_sync.service.metrics import _label
from openai_sync.service.security import check_password, hash_password, host_allowed, is_loopback
from openai_sync.service.serve import refuse


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("90m", 5400), ("1h", 3600), ("24h", 86400),
                                               ("1d", 86400), (" 15 min ", 900)])
def test_frequencies(text: str, seconds: int) -> None:
    assert parse_frequency(text) == seconds


@pytest.mark.parametrize("text", ["4m", "25h", "2d", "hourly", "1s", ""])
def test_frequencies_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"5m|duration"):
        parse_frequency(text)


def test_cron_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="five fields"):
        Settings.model_validate({"sync_cron": "every hour"})


@given(st.floats(min_value=1.7e9, max_value=1.9e9), st.sampled_from(["5m", "1h", "6h", "24h"]),
       st.integers(0, 2**32))
def test_next_slot_is_one_period_on_with_bounded_jitter(start: float, every: str, seed: int) -> None:
    period = parse_frequency(every)
    due = schedule.regular_next(Settings(sync_frequency=every), start, start + 1, random.Random(seed))
    assert start + period <= due <= start + period + min(period * 0.1, 300)


def test_a_missed_slot_is_now_not_in_the_past() -> None:
    due = schedule.regular_next(Settings(sync_frequency="1h"), 1_800_000_000, 1_800_100_000, random.Random(1))
    assert 1_800_100_000 <= due <= 1_800_100_000 + 300


def test_cron_slot() -> None:
    after = datetime(2026, 11, 30, 8, 20, 5, tzinfo=UTC).timestamp()
    due = schedule.regular_next(Settings(sync_cron="15 * * * *"), after, after, random.Random(1))
    slot = datetime(2026, 11, 30, 9, 15, tzinfo=UTC).timestamp()
    assert slot <= due <= slot + 36  # a cron's time is meant: seconds of spread at most


def test_backoff_doubles_and_never_passes_the_regular_slot() -> None:
    now, regular = 1_000_000.0, 1_000_000.0 + 3600
    waits = [schedule.retry_at(n, regular, now) - now for n in range(1, 7)]
    assert waits[:4] == [60, 120, 240, 480]
    assert waits[4:] == [3600, 3600]  # past RETRIES: the regular slot alone
    assert schedule.retry_at(3, now + 100, now) == now + 100


def test_passwords() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert check_password("correct horse battery", stored)
    assert not check_password("correct horse batterz", stored)
    assert not check_password("x", "not a hash")
    assert hash_password("same") != hash_password("same")  # salted


def test_loopback_and_host_header() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    assert host_allowed("127.0.0.1:8765", "127.0.0.1") and host_allowed("localhost:8765", "127.0.0.1")
    assert host_allowed("[::1]:8765", "127.0.0.1")
    assert not host_allowed("attacker.example:8765", "127.0.0.1")  # DNS rebinding
    assert host_allowed("sync.example.com", "0.0.0.0")  # beyond loopback, the password guards it
    assert refuse("0.0.0.0", None) and "openai-sync password" in (refuse("0.0.0.0", None) or "")
    assert refuse("0.0.0.0", "scrypt$...") is None and refuse("127.0.0.1", None) is None


def test_prometheus_labels_are_escaped() -> None:
    assert _label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_regressions() -> None:
    before = [{"name": "admin key", "status": "pass", "message": ""}, {"name": "users", "status": "warn",
                                                                       "message": ""}]
    after = [{"name": "admin key", "status": "fail", "message": "revoked"}, {"name": "users", "status": "warn",
                                                                              "message": ""}]
    assert [c["name"] for c in worse(before, after)] == ["admin key"]
    assert worse(after, before) == []  # better is not a regression
    assert worse(None, after) == []  # the first check has nothing to regress from


def test_service_settings(tmp_path) -> None:
    from openai_sync.service import settings

    config = tmp_path / "openai-sync.toml"
    config.write_text("[service]\nmax_concurrent_runs = 2\n")
    assert settings.load(config).max_concurrent_runs == 2
    config.write_text("[service]\nmax_runs = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'max_runs'"):
        settings.load(config)


def test_save_and_test_regression_is_alerted(tmp_path) -> None:
    from openai_sync.service import settings
    from openai_sync.service.agent import Agent

    config = tmp_path / "openai-sync.toml"
    agent = Agent(config, settings.load(config))
    try:
        agent.scheduler.checked("org1", [{"name": "admin key", "status": "pass", "message": "works"}])
        assert list(agent.alerts.sent) == []
        agent.scheduler.checked("org1", [{"name": "admin key", "status": "fail", "message": "was rejected (401)"}])
        sent = agent.alerts.sent[-1]
        assert sent["event"] == "checks_regressed" and "admin key: was rejected (401)" in sent["text"]
        assert agent.state.connection("org1").checks[0]["status"] == "fail"
    finally:
        agent.stop()


def test_sessions_stay_bounded() -> None:
    from openai_sync.service.security import MOST, Sessions

    s = Sessions()
    for _ in range(MOST + 50):
        s.new()
    assert len(s) == MOST


def test_a_changed_schedule_applies_at_once(tmp_path) -> None:
    """A connection due in a day whose schedule became every five minutes is rescheduled by the next tick."""
    import time

    from openai_sync.config import Secrets
    from openai_sync.config_files import save
    from openai_sync.service import settings
    from openai_sync.service.agent import Agent

    config = tmp_path / "openai-sync.toml"
    save(config, "org1", Settings(sync_frequency="5m", base_url="http://127.0.0.1:9/v1"), Secrets())
    agent = Agent(config, settings.load(config))
    try:
        c = agent.state.connection("org1")
        now = time.time()
        c.last_success, c.last_start, c.next_due = now - 60, now - 60, now + 86400
        agent.state.save_connection(c)
        entry = agent.scheduler.connections.get("org1")
        assert agent.scheduler._due("org1", entry, now) == (None, None)
        assert agent.state.connection("org1").next_due <= now - 60 + 300 + 31
    finally:
        agent.stop()


def test_password_command_refuses_a_short_password(tmp_path) -> None:
    from typer.testing import CliRunner

    from openai_sync.cli import app

    r = CliRunner().invoke(app, ["password", "--config", str(tmp_path / "c.toml")], input="short\n")
    assert r.exit_code == 2 and "at least 12 characters" in " ".join(r.stderr.split())
    assert not (tmp_path / "c.secrets.toml").exists()


def test_a_run_seen_ended_can_be_followed_at_once(tmp_path, monkeypatch) -> None:
    """Whoever sees a run ended (the console, the JSON API) may ask for the next one at once: the run leaves the
    scheduler's running set in the same step that records its end, never a moment later."""
    import threading
    import time

    from openai_sync.config import Secrets
    from openai_sync.config_files import save
    from openai_sync.service import scheduler as scheduler_module
    from openai_sync.service import settings
    from openai_sync.service.agent import Agent
    from openai_sync.service.scheduler import Refused, Running
    from openai_sync.service.state import Run

    class Finished:  # a child that has already ended well
        def __init__(self, *args, **kwargs) -> None:
            pass

        def wait(self, interrupt) -> scheduler_module.Ended:
            return scheduler_module.Ended({"status": "ok", "rows": 0, "requests": 0})

    monkeypatch.setattr(scheduler_module, "Child", Finished)
    config = tmp_path / "openai-sync.toml"
    save(config, "org1", Settings(sync_frequency="1h", base_url="http://127.0.0.1:9/v1"), Secrets())
    agent = Agent(config, settings.load(config))
    outcome: list[str] = []
    asked: list[threading.Thread] = []
    save_run = agent.state.save_run

    def ask() -> None:
        try:
            agent.scheduler.request("org1")
            outcome.append("taken")
        except Refused as e:
            outcome.append(str(e))

    def seen(run: Run) -> None:  # the moment the run's end is visible, another thread asks for the next
        save_run(run)
        if run.status != "running" and not asked:
            asked.append(threading.Thread(target=ask))
            asked[0].start()
            asked[0].join(0.5)  # without the step being one, the ask is refused within this half second

    try:
        run = Run("r1", "org1", "manual", time.time())
        save_run(run)
        entry = agent.scheduler.connections.get("org1")
        running = Running(run, entry)
        agent.scheduler.running["org1"] = running
        monkeypatch.setattr(agent.state, "save_run", seen)
        agent.scheduler._watch(running, {}, 60)
        asked[0].join(10)
        assert outcome == ["taken"]
    finally:
        agent.stop()
