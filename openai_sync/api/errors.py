"""The errors a sync reports: each message is a sentence the user can act on, with keys masked."""

from __future__ import annotations


class SyncError(Exception):
    """An error the user can act on; its message is safe to print (keys masked)."""


class KeyProblem(SyncError):
    """A key is missing, of the wrong kind, rejected, or lacks a permission."""


class ApiProblem(SyncError):
    """The API answered something unusable (bad JSON, HTML, a stuck cursor, ...), or kept failing."""


class NotFound(ApiProblem):
    """404: the object is not there (gone since it was listed, or never was)."""


class BudgetExceeded(SyncError):
    """The run's time budget ran out: what was read is loaded, the rest is left for the next run."""
