"""API keys as the connector may show and compare them: masked, by kind, against the API's redacted values."""

from __future__ import annotations

import re
from dataclasses import dataclass

ADMIN_KEYS_URL = "https://platform.openai.com/settings/organization/admin-keys"


DEFAULT_BASE_URL = "https://api.openai.com/v1"
MASK_MIN_SECRET = 24  # a key's last four characters are shown only when they are a small part of its secret


def mask(key: str | None) -> str:
    """A key as it may be shown: its kind prefix and last four characters (sk-admin-…abcd). A short or mistyped
    value (`hello`) shows none of its characters, only its length, so that most of it is never printed."""
    if not key:
        return "(none)"
    prefix = next((p for p in ("sk-admin-", "sk-proj-", "sk-svcacct-", "sk-") if key.startswith(p)), "")
    if len(key) - len(prefix) >= MASK_MIN_SECRET:
        return f"{prefix}…{key[-4:]}"
    return f"{prefix}… ({len(key)} characters)"


def key_kind(key: str) -> str:
    if key.startswith("sk-admin-"):
        return "admin"
    if key.startswith(("sk-proj-", "sk-svcacct-")):
        return "project"
    return "unknown"


def redacted_matches(redacted: str, key: str) -> bool:
    """Does a redacted value as the API shows it (`sk-proj-****abcd`, `sk-abc...wxyz`) describe this key?"""
    parts = [p for p in re.split(r"\*+|\.\.\.|…", redacted) if p]
    if len(parts) != 2:
        return False
    head, tail = parts
    return key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)


def scrub(text: str, *keys: str | None) -> str:
    """Remove any trace of the keys from a text (error messages may echo parts of a key)."""
    for key in keys:
        if key:
            text = scrub_one(text, key)
    return text


def scrub_one(text: str, key: str) -> str:
    """Remove any trace of one key from a text (the API itself echoes parts of bad keys)."""
    out = text.replace(key, mask(key))
    return out if len(key) < 12 else out.replace(key[:8], "sk-…")


@dataclass(frozen=True)
class ProjectKey:
    """A project key, and its project when the user said which (else it is looked up with the Admin key)."""

    key: str
    project_id: str | None = None

    def __repr__(self) -> str:  # never show the key itself
        return f"ProjectKey({mask(self.key)}, project_id={self.project_id!r})"
