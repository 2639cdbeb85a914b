"""What the service's tests share: a config file for a simulated organization, the service started as a real
process (`openai-sync serve`) or in-process (its Agent, without the web server), and waiting for a condition."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openai_sync.config import ProjectKey, Secrets, Settings
from openai_sync.config_files import save
from openai_sync.simulator import Simulator

CLI = str(Path(sys.executable).with_name("openai-sync"))


def write_config(tmp: Path, sim: Simulator | None, name: str = "org1", admin_key: str | None = None,
                 **settings: Any) -> Path:
    """A connection to `sim` (every project key) into tmp/NAME.duckdb, with its state under tmp."""
    config = tmp / "openai-sync.toml"
    values = {"destination": f"duckdb:///{tmp / name}.duckdb", "state_dir": str(tmp / "dlt"),
              "base_url": sim.base_url if sim else "http://127.0.0.1:9/v1", **settings}
    keys = [ProjectKey(k) for k in sim.world.project_keys.values()] if sim else []
    save(config, name, Settings.model_validate(values),
         Secrets(admin_key=admin_key or (sim.world.admin_key if sim else None), project_keys=keys))
    return config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: Callable[[], Any], seconds: float, message: str) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds:.0f} s: {message}")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def post(url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None,
         ) -> tuple[int, Any, str]:
    body = urllib.parse.urlencode(data or {}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Served:
    """`openai-sync serve` in a process of its own, on a free port."""

    def __init__(self, config: Path, host: str = "127.0.0.1", grace: float = 20.0, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = config.parent / "serve.log"
        self.proc = subprocess.Popen([CLI, "serve", "--config", str(config), "--host", host, "--port",
                                      str(self.port), "--grace", str(grace)], stdout=subprocess.PIPE,
                                     stderr=self.log.open("w"), text=True, env={**os.environ, **env})

    def up(self) -> Served:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                return get(self.url + "/healthz")[0] == 200
            except OSError:
                return False

        wait_for(ready, 60, "the service answers /healthz")
        return self

    def api(self, path: str) -> Any:
        status, _, body = get(self.url + path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def connection(self, name: str = "org1") -> dict[str, Any]:
        return self.api(f"/api/connections/{name}")

    def connection_with(self, headers: dict[str, str], name: str = "org1") -> dict[str, Any]:
        status, _, body = get(f"{self.url}/api/connections/{name}", headers)
        assert status == 200, body
        return json.loads(body)

    def stop(self, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout)


class Browserless:
    """The console's forms without a browser: a cookie jar, and each form's CSRF token read from its page."""

    def __init__(self, url: str) -> None:
        import http.cookiejar

        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def page(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=30) as r:
            return r.read().decode()

    def submit(self, page_path: str, action: str, fields: dict[str, str]) -> tuple[int, str]:
        import re

        csrf = re.search(r'name="csrf" value="([^"]+)"', self.page(page_path))
        assert csrf, "the page has a form with its CSRF token"
        data = urllib.parse.urlencode({"csrf": csrf.group(1), **fields}).encode()
        try:
            with self.opener.open(self.url + action, data, timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
