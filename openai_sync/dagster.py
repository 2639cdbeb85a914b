"""What `dagster dev -m openai_sync.dagster` loads: the assets, checks and schedules of every connection of the
config file OPENAI_SYNC_CONFIG names (orchestration/dagster.py)."""

from .orchestration.dagster import definitions

defs = definitions()
