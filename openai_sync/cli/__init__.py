"""The `openai-sync` command: a thin layer over the runner, Save & Test and the report.

One module per group of commands (common.COMMANDS orders them). Only `simulator` and `demo` load the
simulator, and only when they run.
"""

from __future__ import annotations

from . import answers, demo, run, service, setup, simulated  # noqa: F401  (each registers its commands on the app)
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
