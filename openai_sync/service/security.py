"""What keeps the console safe while it holds an Admin key: the operator's password (stored as a scrypt hash),
sessions that expire, a CSRF token per session, the Host header checked (a page of another site cannot reach a
console on loopback through DNS rebinding), and headers that forbid framing, sniffing and referrers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
IDLE = 3600.0  # a session unused for an hour ends
LONGEST = 12 * 3600.0  # and any session after twelve hours
COOKIE = "openai_sync_session"
MOST = 1000  # sessions kept at once
HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_allowed(header: str, listen: str) -> bool:
    """A console on loopback answers only to loopback names: a DNS-rebinding page sends its own host name."""
    if not is_loopback(listen):
        return True  # behind a name or a proxy the operator chose; authentication guards it
    name = header.rsplit(":", 1)[0] if not header.endswith("]") else header
    return is_loopback(name)


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)
    signed_in: bool = False
    drafts: dict[str, Any] = field(default_factory=dict)  # the setup form's keys by form id (never sent out)
    flash: str | None = None  # what the last POST did, for the next page


class Sessions:
    """Kept in memory: a restart signs everyone out, and a session id is worth nothing outside this process."""

    def __init__(self) -> None:
        self._all: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = time.time()
        with self._lock:
            s = self._all.get(sid)
            if s is None or now - s.seen > IDLE or now - s.created > LONGEST:
                self._all.pop(sid, None)
                return None
            s.seen = now
            return s

    def new(self, signed_in: bool = False) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            if len(self._all) >= MOST:  # expired ones go first, then the oldest: memory stays bounded
                for key in [k for k, s in self._all.items() if now - s.seen > IDLE or now - s.created > LONGEST]:
                    del self._all[key]
                while len(self._all) >= MOST:
                    del self._all[next(iter(self._all))]
            self._all[sid] = s = Session(signed_in=signed_in)
        return sid, s

    def __len__(self) -> int:
        return len(self._all)

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._all.pop(sid or "", None)
