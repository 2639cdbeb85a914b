"""Configuration without the network (issue #4): named connections in a TOML file, keys in a 0600 secrets
file beside it, environment variables, flags; precedence flags > environment > files > defaults; errors that
name the setting, where its value came from and the valid values; keys never shown."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from openai_sync.api.client import DEFAULT_BASE_URL
from openai_sync.api.keys import mask
from openai_sync.config import (
    DEFAULT_DESTINATION,
    ENV,
    ConfigError,
    MissingConfig,
    ProjectKey,
    Secrets,
    Settings,
    key_problems,
    parse_every,
    parse_project_keys,
    resolve,
    secrets_path,
)
from openai_sync.config_files import ignore_in_git, save

ADMIN = "sk-admin-" + "A" * 40 + "adm1"
ADMIN2 = "sk-admin-" + "B" * 40 + "adm2"
PROJ1 = "sk-proj-" + "C" * 48 + "prj1"
PROJ2 = "sk-proj-" + "D" * 48 + "prj2"
PID1, PID2 = "proj_" + "a" * 24, "proj_" + "b" * 24
ALL_KEYS = (ADMIN, ADMIN2, PROJ1, PROJ2)


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.write_text(text)
    if mode is not None:
        os.chmod(path, mode)
    return path


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A config file with two connections, and their keys in a 0600 secrets file."""
    path = tmp_path / "openai-sync.toml"
    write(path, f"""
default_connection = "staging"

[connections.staging]
destination = "duckdb:///{tmp_path}/staging.duckdb"
schema = "openai_staging"
base_url = "http://127.0.0.1:9/v1"
concurrency = 4

[connections.prod]
destination = "postgresql://loader@db:5432/analytics"
schema = "openai"
tables = ["users", "costs"]
bucket_width = "1h,usage_completions=1m"
start_date = "2025-01-01"
""")
    write(secrets_path(path), f"""
[connections.staging]
admin_key = "{ADMIN}"
project_keys = ["{PROJ1}"]

[connections.prod]
admin_key = "{ADMIN2}"
project_keys = ["{PID1}={PROJ1}", "{PID2}={PROJ2}"]
""", 0o600)
    return path


def env_of(cfg: Path, **extra: str) -> dict[str, str]:
    return {"OPENAI_SYNC_CONFIG": str(cfg), **extra}


# ---- defaults, files, precedence ----------------------------------------------------------------
def test_defaults_without_file_or_environment(tmp_path):
    r = resolve({}, {"OPENAI_SYNC_CONFIG": str(tmp_path / "none.toml")})
    assert r.name == "default"
    s = r.settings
    assert (s.destination, s.schema_name, s.base_url) == (DEFAULT_DESTINATION, "openai", DEFAULT_BASE_URL)
    assert (s.concurrency, s.bucket_width, s.tables, s.start_date, s.lookback_hours) == (8, "1d", None, None, 24.0)
    assert r.secrets.admin_key is None and r.secrets.project_keys == []
    assert r.sources == {}


def test_the_default_config_file_is_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve({}, {}).config_path == Path("openai-sync.toml")


def test_file_values_and_their_keys(cfg):
    r = resolve({}, env_of(cfg))
    assert r.name == "staging"  # the file's default_connection
    assert r.settings.schema_name == "openai_staging" and r.settings.concurrency == 4
    assert r.settings.base_url == "http://127.0.0.1:9/v1"
    assert r.secrets.admin_key == ADMIN
    assert [(p.key, p.project_id) for p in r.secrets.project_keys] == [(PROJ1, None)]
    assert r.sources["schema"] == f"file {cfg}"


def test_precedence_flag_over_environment_over_file_over_default(cfg):
    # file only
    r = resolve({"connection": "prod"}, env_of(cfg))
    assert r.settings.destination == "postgresql://loader@db:5432/analytics"
    assert r.settings.base_url == DEFAULT_BASE_URL  # not in the file: the default
    assert r.sources["destination"] == f"file {cfg}" and "base_url" not in r.sources
    # the environment over the file (and over the default)
    env = env_of(cfg, OPENAI_SYNC_DESTINATION="duckdb:///./env.duckdb", OPENAI_SYNC_SCHEMA="from_env",
                 OPENAI_BASE_URL="http://127.0.0.1:8/v1")
    r = resolve({"connection": "prod"}, env)
    assert (r.settings.destination, r.settings.schema_name) == ("duckdb:///./env.duckdb", "from_env")
    assert r.settings.base_url == "http://127.0.0.1:8/v1"
    assert r.sources["destination"] == "env OPENAI_SYNC_DESTINATION"
    assert r.sources["base_url"] == "env OPENAI_BASE_URL"
    # flags over the environment
    r = resolve({"connection": "prod", "destination": "duckdb:///./flag.duckdb", "schema": "from_flag",
                 "base_url": "http://127.0.0.1:7/v1/", "concurrency": 2}, env)
    assert (r.settings.destination, r.settings.schema_name) == ("duckdb:///./flag.duckdb", "from_flag")
    assert r.settings.base_url == "http://127.0.0.1:7/v1"  # trailing slash dropped
    assert r.settings.concurrency == 2
    assert r.sources["destination"] == r.sources["schema"] == "flag"
    # a flag left out (None) does not hide the lower levels
    r = resolve({"connection": "prod", "destination": None, "schema": None}, env)
    assert r.settings.destination == "duckdb:///./env.duckdb"
    # an empty environment variable counts as unset
    r = resolve({"connection": "prod"}, env_of(cfg, OPENAI_SYNC_SCHEMA=""))
    assert r.settings.schema_name == "openai"


def test_keys_from_the_environment_over_the_secrets_file(cfg):
    env = env_of(cfg, OPENAI_ADMIN_KEY=ADMIN2, OPENAI_PROJECT_KEYS=f" {PROJ2} , {PID1}={PROJ1},,")
    r = resolve({}, env)
    assert r.secrets.admin_key == ADMIN2
    assert [(p.key, p.project_id) for p in r.secrets.project_keys] == [(PROJ2, None), (PROJ1, PID1)]
    # only one of the two from the environment: the other from the file
    r = resolve({}, env_of(cfg, OPENAI_PROJECT_KEYS=PROJ2))
    assert r.secrets.admin_key == ADMIN and [p.key for p in r.secrets.project_keys] == [PROJ2]
    # surrounding blanks of a pasted key are dropped
    assert resolve({}, env_of(cfg, OPENAI_ADMIN_KEY=f"  {ADMIN2}\n")).secrets.admin_key == ADMIN2


def test_the_config_file_from_the_environment_and_the_flag_over_it(cfg, tmp_path):
    other = write(tmp_path / "other.toml", '[connections.default]\nschema = "other"\n')
    assert resolve({}, env_of(cfg)).config_path == cfg
    r = resolve({"config": str(other)}, env_of(cfg))
    assert r.config_path == other and r.settings.schema_name == "other"
    assert r.secrets.admin_key is None  # other.secrets.toml does not exist


def test_every_environment_variable_is_read():
    assert set(ENV) == {"OPENAI_ADMIN_KEY", "OPENAI_PROJECT_KEYS", "OPENAI_BASE_URL", "OPENAI_SYNC_DESTINATION",
                        "OPENAI_SYNC_SCHEMA", "OPENAI_SYNC_CONNECTION", "OPENAI_SYNC_CONFIG"}


# ---- named connections --------------------------------------------------------------------------
def test_a_connection_by_flag_by_environment_or_by_default(cfg):
    assert resolve({}, env_of(cfg)).name == "staging"
    assert resolve({}, env_of(cfg, OPENAI_SYNC_CONNECTION="prod")).name == "prod"
    r = resolve({"connection": "staging"}, env_of(cfg, OPENAI_SYNC_CONNECTION="prod"))
    assert r.name == "staging"  # the flag wins
    prod = resolve({"connection": "prod"}, env_of(cfg))
    assert prod.secrets.admin_key == ADMIN2
    assert [(p.project_id, p.key) for p in prod.secrets.project_keys] == [(PID1, PROJ1), (PID2, PROJ2)]
    assert prod.settings.tables == ["users", "costs"]
    assert str(prod.settings.start_date) == "2025-01-01"
    assert prod.settings.bucket_width == "1h,usage_completions=1m"


@pytest.mark.parametrize("how", ["flag", "env", "default_connection"])
def test_an_unknown_connection_names_the_valid_ones(cfg, how):
    if how == "default_connection":
        cfg.write_text(cfg.read_text().replace('default_connection = "staging"', 'default_connection = "stagin"'))
    flags = {"connection": "stagin"} if how == "flag" else {}
    env = env_of(cfg, OPENAI_SYNC_CONNECTION="stagin") if how == "env" else env_of(cfg)
    with pytest.raises(ConfigError) as e:
        resolve(flags, env)
    assert str(e.value) == f"no connection named 'stagin' in {cfg}; connections: staging, prod"


def test_without_default_connection_the_one_named_default(tmp_path):
    path = write(tmp_path / "c.toml", '[connections.default]\nschema = "a"\n[connections.other]\nschema = "b"\n')
    assert resolve({}, env_of(path)).settings.schema_name == "a"
    # a file whose connections have other names: say which, rather than silently use the defaults
    path.write_text('[connections.other]\nschema = "b"\n')
    with pytest.raises(ConfigError, match=r"no connection named 'default' .*; connections: other"):
        resolve({}, env_of(path))


def test_a_named_connection_without_a_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"no connection named 'prod' in .*none.toml \(no such file\); "
                                          r"connections: \(none yet: run openai-sync setup\)"):
        resolve({"connection": "prod"}, env_of(tmp_path / "none.toml"))
    # setup creates it
    r = resolve({"connection": "prod"}, env_of(tmp_path / "none.toml"), allow_new=True)
    assert r.name == "prod" and r.settings.destination == DEFAULT_DESTINATION


def test_setup_may_name_a_new_connection_of_an_existing_file(cfg):
    r = resolve({"connection": "dev"}, env_of(cfg), allow_new=True)
    assert r.name == "dev" and r.settings.schema_name == "openai" and r.secrets.admin_key is None


# ---- unknown settings and bad values ------------------------------------------------------------
def test_an_unknown_setting_names_the_valid_ones(cfg):
    cfg.write_text(cfg.read_text().replace("concurrency = 4", "concurency = 4"))
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg))
    msg = str(e.value)
    assert msg.startswith("concurency: unknown setting (did you mean concurrency?); valid settings: ")
    for name in ("destination", "schema", "base_url", "tables", "concurrency", "bucket_width", "start_date",
                 "lookback_hours", "state_dir"):
        assert re.search(rf"\b{name}\b", msg), name
    assert msg.endswith(f"(from file {cfg})")


def test_a_key_in_the_config_file_is_sent_to_the_secrets_file(cfg):
    cfg.write_text(cfg.read_text().replace("concurrency = 4", f'admin_key = "{ADMIN}"'))
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg))
    assert "keys do not belong in the config file" in str(e.value)
    assert str(secrets_path(cfg)) in str(e.value) and "0600" in str(e.value)
    assert ADMIN not in str(e.value) and ADMIN[-12:] not in str(e.value)


def test_an_unknown_entry_of_the_secrets_file_names_the_valid_ones(cfg):
    sec = secrets_path(cfg)
    sec.write_text(sec.read_text().replace("admin_key", "admin-key", 1))
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg))
    assert str(e.value) == (f"{sec}: unknown setting 'admin-key' in [connections.staging] (did you mean "
                            "admin_key?); valid: admin_key, project_keys, hash_key")


@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("schema", "1openai", "schema: '1openai' is not a valid schema name: use letters, digits and _"),
    ("schema", "my-schema", "schema: 'my-schema' is not a valid schema name"),
    ("schema", "x" * 64, "at most 63 characters"),
    ("bucket_width", "2d", "bucket_width: bucket width '2d' is not one of 1m, 1h, 1d"),
    ("bucket_width", "1h,users=1m", "'users' is not a usage table; usage tables: usage_completions,"),
    ("tables", ["users", "bogus"], "tables: unknown table(s) bogus; valid tables: audit_logs, usage_completions"),
    ("start_date", "2025-13-01", "start_date: '2025-13-01' is not a date; use YYYY-MM-DD (UTC)"),
    ("base_url", "ftp://example.com", "base_url: 'ftp://example.com' is not an http(s) URL"),
    ("concurrency", 0, "concurrency: Input should be greater than or equal to 1"),
    ("concurrency", 65, "concurrency: Input should be less than or equal to 64"),
    ("lookback_hours", -1, "lookback_hours: Input should be greater than or equal to 0"),
    ("destination", "  ", "destination: the destination is empty"),
    ("reconcile_every", "daily", "reconcile_every: reconcile_every 'daily' is not a duration: use hours or days"),
    ("reconcile_every", "12", "reconcile_every '12' is not a duration"),
    ("volatile_every", "31d", "volatile_every: volatile_every '31d' is longer than 30d"),
])
def test_a_bad_value_names_the_setting_its_origin_and_what_is_valid(tmp_path, setting, value, expected):
    with pytest.raises(ConfigError) as e:
        resolve({"config": str(tmp_path / "none.toml"), setting: value}, {})
    assert expected in str(e.value)
    assert str(e.value).endswith("(from flag)")


@pytest.mark.parametrize(("value", "seconds"),
                         [("0", 0), ("12h", 43200), ("1d", 86400), ("90m", 5400), ("30d", 2592000)])
def test_reconcile_every_and_volatile_every_in_seconds(tmp_path, value, seconds):
    env = {"OPENAI_SYNC_CONFIG": str(tmp_path / "none.toml")}
    r = resolve({"reconcile_every": value, "volatile_every": value}, env)
    assert parse_every(r.settings.reconcile_every, "reconcile_every") == seconds
    assert parse_every(r.settings.volatile_every, "volatile_every") == seconds


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError,
                       match=r"^schema: '9x' is not a valid schema name.*\(from env OPENAI_SYNC_SCHEMA\)$"):
        resolve({"config": str(tmp_path / "none.toml")}, {"OPENAI_SYNC_SCHEMA": "9x"})


def test_a_bad_value_in_the_file_names_the_file(cfg):
    cfg.write_text(cfg.read_text().replace('schema = "openai_staging"', 'schema = "openai staging"'))
    with pytest.raises(ConfigError, match=rf"^schema: .*\(from file {re.escape(str(cfg))}\)$"):
        resolve({}, env_of(cfg))


def test_a_file_that_is_not_toml(tmp_path):
    path = write(tmp_path / "c.toml", "[connections.default\nschema = 'x'\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))} is not valid TOML: "):
        resolve({}, env_of(path))
    write(tmp_path / "d.toml", "connections = 3\n")
    with pytest.raises(ConfigError, match="must be a table of named connections"):
        resolve({}, env_of(tmp_path / "d.toml"))


@pytest.mark.parametrize("raw", [f"{PROJ1}=proj_x", f"myproject={PROJ1}"])
def test_project_keys_in_the_wrong_form_are_refused_without_showing_the_key(raw):
    with pytest.raises(ConfigError) as e:
        parse_project_keys(raw, "OPENAI_PROJECT_KEYS")
    assert "PROJECT_ID=KEY" in str(e.value) and "proj_" in str(e.value)
    assert PROJ1[8:16] not in str(e.value)


@pytest.mark.parametrize("bad", [ADMIN[:20] + " " + ADMIN[20:], ADMIN[:20] + "\n" + ADMIN[20:],
                                 "sk-admin-…adm1", "“" + ADMIN + "”"])
def test_a_key_that_cannot_be_one_is_refused_without_showing_it(cfg, bad):
    """Sent as is, such a key fails deep in the HTTP layer, with an error that may quote it."""
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg, OPENAI_ADMIN_KEY=bad))
    msg = str(e.value)
    assert msg.startswith("the Admin key (from OPENAI_ADMIN_KEY) contains a character that API keys never have")
    assert "paste the whole key again" in msg
    assert ADMIN[9:30] not in msg and "adm1" not in msg
    with pytest.raises(ConfigError, match="a project key in OPENAI_PROJECT_KEYS contains a character"):
        resolve({}, env_of(cfg, OPENAI_PROJECT_KEYS=bad.replace("sk-admin-", "sk-proj-")))


def test_project_keys_as_a_table_of_project_ids(cfg):
    sec = secrets_path(cfg)
    sec.write_text(f'[connections.staging]\nadmin_key = "{ADMIN}"\n'
                   f'[connections.staging.project_keys]\n{PID1} = "{PROJ1}"\n{PID2} = "{PROJ2}"\n')
    r = resolve({}, env_of(cfg))
    assert [(p.project_id, p.key) for p in r.secrets.project_keys] == [(PID1, PROJ1), (PID2, PROJ2)]


# ---- the secrets file ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_a_secrets_file_others_can_read_is_refused(cfg, mode):
    sec = secrets_path(cfg)
    os.chmod(sec, mode)
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg))
    assert str(e.value) == f"{sec} holds keys but other users can read it; run: chmod 600 {sec}"
    os.chmod(sec, 0o600)
    assert resolve({}, env_of(cfg)).secrets.admin_key == ADMIN
    os.chmod(sec, 0o400)
    assert resolve({}, env_of(cfg)).secrets.admin_key == ADMIN


def test_the_secrets_file_is_named_after_the_config_file(tmp_path):
    assert secrets_path(tmp_path / "openai-sync.toml") == tmp_path / "openai-sync.secrets.toml"
    assert secrets_path(tmp_path / "prod.toml") == tmp_path / "prod.secrets.toml"


# ---- save ---------------------------------------------------------------------------------------
def test_save_writes_settings_and_keys_apart_and_reads_back(tmp_path):
    path = tmp_path / "sub" / "openai-sync.toml"
    settings = Settings.model_validate({"destination": "duckdb:///./x.duckdb", "schema": "analytics",
                                        "tables": ["users"], "base_url": "http://127.0.0.1:9/v1"})
    sec = save(path, "default", settings, Secrets(ADMIN, [ProjectKey(PROJ1, PID1), ProjectKey(PROJ2)]))
    assert sec == tmp_path / "sub" / "openai-sync.secrets.toml"
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    text = path.read_text()
    assert not any(k in text for k in ALL_KEYS) and "sk-" not in text
    assert 'default_connection = "default"' in text and 'schema = "analytics"' in text
    assert ADMIN in sec.read_text() and f"{PID1}={PROJ1}" in sec.read_text()
    r = resolve({}, env_of(path))
    assert r.name == "default" and r.settings == settings
    assert r.secrets.admin_key == ADMIN
    assert [(p.key, p.project_id) for p in r.secrets.project_keys] == [(PROJ1, PID1), (PROJ2, None)]


def test_save_keeps_the_other_connections(cfg):
    before = {n: resolve({"connection": n}, env_of(cfg)) for n in ("staging", "prod")}
    new = Settings.model_validate({"schema": "dev_schema"})
    save(cfg, "dev", new, Secrets(ADMIN2, []), make_default=False)
    for n, r in before.items():
        again = resolve({"connection": n}, env_of(cfg))
        assert again.settings == r.settings
        assert again.secrets.admin_key == r.secrets.admin_key
        assert [(p.key, p.project_id) for p in again.secrets.project_keys] == [
            (p.key, p.project_id) for p in r.secrets.project_keys]
    assert resolve({}, env_of(cfg)).name == "staging"  # not made the default
    dev = resolve({"connection": "dev"}, env_of(cfg))
    assert dev.settings.schema_name == "dev_schema" and dev.secrets.admin_key == ADMIN2
    # by default, saving does not take the place of the file's default connection
    save(cfg, "dev", Settings.model_validate({"schema": "dev1"}), Secrets(ADMIN2, []))
    assert resolve({}, env_of(cfg)).name == "staging"
    assert resolve({"connection": "dev"}, env_of(cfg)).settings.schema_name == "dev1"
    # saving again replaces that connection only, and here makes it the default
    save(cfg, "dev", Settings.model_validate({"schema": "dev2"}), Secrets(None, [ProjectKey(PROJ2)]),
         make_default=True)
    dev = resolve({}, env_of(cfg))
    assert dev.name == "dev" and dev.settings.schema_name == "dev2"
    assert dev.secrets.admin_key is None and [p.key for p in dev.secrets.project_keys] == [PROJ2]
    assert resolve({"connection": "prod"}, env_of(cfg)).secrets.admin_key == ADMIN2


def test_save_tightens_a_secrets_file_that_others_could_read(cfg):
    sec = secrets_path(cfg)
    os.chmod(sec, 0o644)
    save(cfg, "staging", Settings(), Secrets(ADMIN, []))
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert resolve({"connection": "prod"}, env_of(cfg)).secrets.admin_key == ADMIN2


# ---- keys are never shown -----------------------------------------------------------------------
def test_keys_are_masked_in_every_representation(cfg):
    r = resolve({"connection": "prod"}, env_of(cfg))
    shown = " ".join([repr(r), str(r), repr(r.secrets), repr(r.secrets.project_keys), repr(r.settings)])
    assert not any(k in shown or k[9:-4] in shown for k in ALL_KEYS)
    assert mask(ADMIN2) == "sk-admin-…adm2" and mask(ADMIN2) in shown
    assert mask(PROJ1) == "sk-proj-…prj1" and mask(PROJ1) in shown


def test_key_problems_name_keys_in_the_wrong_place():
    assert key_problems(Secrets(ADMIN, [ProjectKey(PROJ1)])) == []
    problems = key_problems(Secrets(PROJ1, [ProjectKey(ADMIN)]))
    assert problems == ["the Admin key sk-proj-…prj1 is a project key (sk-proj-...)",
                        "the project key sk-admin-…adm1 is an Admin key (sk-admin-...)"]


# ---- misspelt names -----------------------------------------------------------------------------
@pytest.mark.parametrize(("before", "after", "expected"), [
    ('default_connection = "staging"', 'default_conection = "staging"',
     "unknown setting default_conection in {cfg} (did you mean default_connection?)"),
    ("[connections.prod]", "[conections.prod]", "unknown table conections.prod in {cfg} (did you mean "
                                                "connections.prod?)"),
    ('default_connection = "staging"', 'schema = "x"',
     "unknown setting schema in {cfg}; at the top level only default_connection, connections and service belong, a "
     "connection's settings go in its table, connections.NAME"),
])
def test_a_misspelt_top_level_name_is_refused_before_anything_is_read(cfg, before, after, expected):
    """Ignored, `default_conection` would run the connection named default, `[conections.prod]` no prod at all."""
    cfg.write_text(cfg.read_text().replace(before, after))
    for flags in ({}, {"connection": "staging"}, {"connection": "nope"}):  # before the connection is looked for
        with pytest.raises(ConfigError) as e:
            resolve(flags, env_of(cfg))
        assert str(e.value) == expected.format(cfg=cfg)


def test_a_misspelt_top_level_name_of_the_secrets_file_is_refused(cfg):
    sec = secrets_path(cfg)
    sec.write_text(sec.read_text().replace("[connections.prod]", "[connection.prod]"))
    with pytest.raises(ConfigError) as e:
        resolve({"connection": "staging"}, env_of(cfg))
    assert str(e.value) == f"unknown table connection.prod in {sec} (did you mean connections.prod?)"


def test_a_key_pasted_where_a_name_belongs_is_not_shown(cfg):
    sec = secrets_path(cfg)
    sec.write_text(sec.read_text().replace(f'admin_key = "{ADMIN}"', f'{ADMIN} = "x"', 1))
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg))
    assert mask(ADMIN) in str(e.value) and ADMIN[9:30] not in str(e.value)
    sec.write_text(f'{PROJ1} = "x"\n' + sec.read_text())
    with pytest.raises(ConfigError) as e:
        resolve({}, env_of(cfg))
    assert str(e.value).startswith(f"unknown setting {mask(PROJ1)} in {sec}") and PROJ1[9:30] not in str(e.value)


# ---- the API base URL ---------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "fixed"), [
    ("https://api.openai.com", "https://api.openai.com/v1"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1"),
    ("https://proxy.example.com/openai", "https://proxy.example.com/openai/v1"),
])
def test_a_base_url_without_v1_is_refused_with_the_corrected_url(tmp_path, url, fixed):
    """Without /v1 every request misses (404), far from the setting that caused it."""
    with pytest.raises(ConfigError) as e:
        resolve({"config": str(tmp_path / "none.toml"), "base_url": url}, {})
    assert str(e.value) == (f"base_url: {url.rstrip('/')!r} does not end with /v1, where the API's paths start; add "
                            f"it: {fixed} (from flag)")
    assert resolve({"base_url": fixed}, {}).settings.base_url == fixed


def test_an_endpoints_url_is_refused_and_a_gateways_path_after_v1_is_kept(tmp_path):
    with pytest.raises(ConfigError) as e:
        resolve({"config": str(tmp_path / "none.toml"), "base_url": "https://api.openai.com/v1/organization/users"},
                {})
    assert "is an endpoint's URL; the base URL is the part up to /v1: https://api.openai.com/v1" in str(e.value)
    gateway = "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai"  # a gateway's own path after /v1
    assert resolve({"base_url": gateway}, {}).settings.base_url == gateway


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "https://eu.api.openai.com/v1/",
                                 "http://127.0.0.1:40123/v1", "https://gateway.example.com/openai/v1"])
def test_base_urls_ending_with_v1_are_accepted(url):
    assert resolve({"base_url": url}, {}).settings.base_url == url.rstrip("/")


def test_the_simulator_base_url_ends_with_v1():
    from openai_sync.simulator import Simulator, World

    with Simulator(World(seed=1, size="small")) as sim:
        assert resolve({"base_url": sim.base_url}, {}).settings.base_url == sim.base_url


# ---- --config naming no file --------------------------------------------------------------------
def test_a_config_flag_naming_no_file_is_refused(tmp_path):
    missing = tmp_path / "opneai-sync.toml"
    with pytest.raises(MissingConfig) as e:
        resolve({"config": str(missing)}, {})
    assert str(e.value) == (f"{missing} does not exist (--config); create it with `openai-sync setup --config "
                            f"{missing}`, or fix the path")
    # setup creates it
    assert resolve({"config": str(missing)}, {}, allow_new=True).config_path == missing
    # keys in the environment do not make a mistyped path run on the defaults
    with pytest.raises(MissingConfig):
        resolve({"config": str(missing)}, {"OPENAI_ADMIN_KEY": ADMIN})
    # without --config, flags and environment are the whole configuration (CI, containers)
    assert resolve({}, {"OPENAI_ADMIN_KEY": ADMIN, "OPENAI_SYNC_CONFIG": str(missing)}).secrets.admin_key == ADMIN
    # the default file, or one named by OPENAI_SYNC_CONFIG, may be missing: the defaults then
    assert resolve({}, {"OPENAI_SYNC_CONFIG": str(missing)}).name == "default"


# ---- save keeps the user's formatting -----------------------------------------------------------
COMMENTED = """# our OpenAI connections: ask #data-eng before changing
default_connection = "staging"   # the one cron runs

# staging: the test organization
[connections.staging]
schema = "openai_staging"     # not openai: that is prod's
destination = "duckdb:///{tmp}/staging.duckdb"

concurrency = 4  # the proxy allows no more

# prod, loaded hourly
[connections.prod]
destination = "postgresql://loader@db:5432/analytics"
tables = ["users", "costs"]   # only these
"""


def test_save_keeps_comments_order_and_blank_lines(tmp_path):
    cfg = write(tmp_path / "openai-sync.toml", COMMENTED.format(tmp=tmp_path))
    sec = write(secrets_path(cfg), f'# from the vault, 2025-06\n[connections.staging]\nadmin_key = "{ADMIN}"  # ro\n'
                                   f'\n# prod: rotated monthly\n[connections.prod]\nadmin_key = "{ADMIN2}"\n', 0o600)
    staging = resolve({"connection": "staging"}, env_of(cfg)).settings
    save(cfg, "staging", staging.model_copy(update={"concurrency": 2}), Secrets(ADMIN, [ProjectKey(PROJ1, PID1)]))
    save(cfg, "dev", Settings.model_validate({"schema": "dev"}), Secrets(ADMIN2, []))
    text = cfg.read_text()
    lines = text.splitlines()
    # every line of the user's file is still there, in its order, but the value that changed
    kept = [line for line in COMMENTED.format(tmp=tmp_path).splitlines() if "concurrency" not in line]
    rest = iter(lines)
    assert all(line in rest for line in kept)  # in order, with only new lines between them
    assert "concurrency = 2  # the proxy allows no more" in lines  # the changed value keeps its comment
    # new values go after the connection's last one, not under the comment that introduces prod
    assert lines.index("# prod, loaded hourly") == lines.index("[connections.prod]") - 1
    assert lines.index('base_url = "https://api.openai.com/v1"') < lines.index("# prod, loaded hourly")
    assert "[connections.dev]" in lines and lines.index("[connections.dev]") > lines.index("[connections.prod]")
    assert resolve({"connection": "staging"}, env_of(cfg)).settings.concurrency == 2
    assert resolve({"connection": "prod"}, env_of(cfg)).settings.tables == ["users", "costs"]
    assert resolve({}, env_of(cfg)).name == "staging"
    # the secrets file too, and it stays readable by its owner alone
    sec_lines = sec.read_text().splitlines()
    for line in ("# from the vault, 2025-06", f'admin_key = "{ADMIN}"  # ro', "# prod: rotated monthly",
                 f'admin_key = "{ADMIN2}"'):
        assert line in sec_lines
    assert f'project_keys = ["{PID1}={PROJ1}"]' in sec_lines
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert [(p.key, p.project_id) for p in resolve({}, env_of(cfg)).secrets.project_keys] == [(PROJ1, PID1)]


def test_save_replaces_project_keys_given_as_a_table(cfg):
    sec = secrets_path(cfg)
    sec.write_text(f'[connections.staging]\nadmin_key = "{ADMIN}"\n'
                   f'[connections.staging.project_keys]\n{PID1} = "{PROJ1}"\n')
    save(cfg, "staging", resolve({}, env_of(cfg)).settings, Secrets(ADMIN, [ProjectKey(PROJ2, PID2)]))
    r = resolve({}, env_of(cfg))
    assert r.secrets.admin_key == ADMIN and [(p.key, p.project_id) for p in r.secrets.project_keys] == [(PROJ2, PID2)]


# ---- the secrets file and Git -------------------------------------------------------------------
def test_outside_a_git_work_tree_no_gitignore_is_written(tmp_path):
    sec = tmp_path / "openai-sync.secrets.toml"
    assert ignore_in_git(sec) is None
    assert not (tmp_path / ".gitignore").exists()


@pytest.mark.parametrize("git", ["dir", "file"])  # .git is a file in a worktree or a submodule
def test_in_a_git_work_tree_a_gitignore_is_created(tmp_path, git):
    (tmp_path / ".git").mkdir() if git == "dir" else (tmp_path / ".git").write_text("gitdir: /elsewhere\n")
    (tmp_path / "deploy").mkdir()
    sec = tmp_path / "deploy" / "openai-sync.secrets.toml"
    assert ignore_in_git(sec) == (f"Created {tmp_path}/deploy/.gitignore ignoring openai-sync.secrets.toml so that "
                                  "Git never commits the keys.")
    assert "openai-sync.secrets.toml" in (tmp_path / "deploy" / ".gitignore").read_text().splitlines()
    assert ignore_in_git(sec) is None  # once


def test_an_existing_gitignore_is_appended_to(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "# build output\n/dist\n*.pyc")  # no final newline
    sec = tmp_path / "prod.secrets.toml"
    assert ignore_in_git(sec) == f"Added prod.secrets.toml to {tmp_path}/.gitignore so that Git never commits the keys."
    assert (tmp_path / ".gitignore").read_text() == "# build output\n/dist\n*.pyc\nprod.secrets.toml\n"


@pytest.mark.parametrize(("where", "lines"), [
    ("beside", "openai-sync.secrets.toml"),
    ("beside", "/openai-sync.secrets.toml"),
    ("beside", "*.secrets.toml"),
    ("root", "*.secrets.toml"),
    ("root", "conf/"),
    ("root", "conf/openai-sync.secrets.toml"),
    ("beside", "*.toml\n!openai-sync.toml"),
])
def test_a_file_already_ignored_is_left_alone(tmp_path, where, lines):
    (tmp_path / ".git").mkdir()
    (tmp_path / "conf").mkdir()
    gitignore = (tmp_path / "conf" if where == "beside" else tmp_path) / ".gitignore"
    write(gitignore, lines + "\n")
    assert ignore_in_git(tmp_path / "conf" / "openai-sync.secrets.toml") is None
    assert gitignore.read_text() == lines + "\n"
    assert where == "beside" or not (tmp_path / "conf" / ".gitignore").exists()


@pytest.mark.parametrize("lines", ["*.secrets.toml\n!openai-sync.secrets.toml", "other.toml", "/sub/x", "conf/"])
def test_a_file_not_ignored_is_added(tmp_path, lines):
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", lines + "\n")
    assert ignore_in_git(tmp_path / "openai-sync.secrets.toml") is not None
    assert (tmp_path / ".gitignore").read_text() == lines + "\nopenai-sync.secrets.toml\n"
