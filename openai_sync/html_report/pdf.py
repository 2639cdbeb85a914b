"""The report as a PDF, printed by a headless Chromium (Debian's `chromium`, or Google Chrome) when one is
installed: the same HTML, so the PDF shows what the browser shows, charts included."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..load.reading import Unreadable as ReportError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def browser() -> str | None:
    """The browser to print with: $OPENAI_SYNC_CHROMIUM, or the first of BROWSERS on the PATH."""
    chosen = os.environ.get("OPENAI_SYNC_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, timeout: float = 120) -> int:
    """Print `html` to `pdf` (written whole or not at all); its size in bytes."""
    exe = browser()
    if exe is None:
        raise ReportError("a PDF needs Chromium or Chrome (on Debian: apt-get install chromium; or set "
                          "OPENAI_SYNC_CHROMIUM to its path); the HTML report was written")
    part = pdf.with_name(f".{pdf.name}.part")
    with tempfile.TemporaryDirectory(prefix="openai-sync-pdf-") as profile:
        # --no-sandbox: Chromium refuses to run as root otherwise (containers); it only opens our own local file
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                "--no-pdf-header-footer", f"--print-to-pdf={part}", html.absolute().as_uri()]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            part.unlink(missing_ok=True)
            raise ReportError(f"{exe} did not print the PDF within {timeout:.0f} s; the HTML report was written") \
                from None
    if done.returncode != 0 or not part.is_file() or not part.read_bytes().startswith(b"%PDF"):
        part.unlink(missing_ok=True)
        said = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise ReportError(f"{exe} could not print the PDF ({said}); the HTML report was written")
    os.replace(part, pdf)
    return pdf.stat().st_size
