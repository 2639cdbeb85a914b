"""`python -m openai_sync.cli`."""

from . import main

main()
