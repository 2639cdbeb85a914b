"""Alerts: a webhook called with a Slack-compatible JSON body (`{"text": ...}`, plus the event's fields) when a
connection starts failing, when it recovers, and when Save & Test regresses (a key revoked, a permission lost).

The webhook's URL is a secret (a Slack URL is its own credential): it lives in the secrets file and is never
logged; a failed delivery is logged with its status alone."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from typing import Any

log = logging.getLogger("openai_sync.service")


class Alerts:
    def __init__(self, url: str | None, console: str | None = None) -> None:
        self.url = url
        self.console = console  # the console's address, linked from each message
        self.sent: deque[dict[str, Any]] = deque(maxlen=100)  # the latest sent, for the tests

    def send(self, event: str, connection: str, text: str, **fields: Any) -> None:
        body = {"text": f"openai-sync: {text}" + (f" <{self.console}/connections/{connection}>" if self.console
                                                  else ""),
                "event": event, "connection": connection, **fields}
        self.sent.append(body)
        log.warning("alert %s: %s", event, text)
        if self.url:
            threading.Thread(target=self._post, args=(body,), daemon=True).start()

    def _post(self, body: dict[str, Any]) -> None:
        request = urllib.request.Request(self.url or "", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                r.read()
        except urllib.error.HTTPError as e:
            log.error("the alert webhook answered %s", e.code)
        except (OSError, ValueError) as e:
            log.error("the alert webhook could not be reached (%s)", type(e).__name__)


def worse(before: list[dict[str, str]] | None, after: list[dict[str, str]]) -> list[dict[str, str]]:
    """The checks of `after` that were better in `before` (pass, then warning or fail; warning, then fail)."""
    if not before:
        return []
    rank = {"pass": 0, "warn": 1, "warning": 1, "fail": 2}
    was = {c["name"]: rank.get(c["status"], 0) for c in before}
    return [c for c in after if c["name"] in was and rank.get(c["status"], 0) > was[c["name"]]]
