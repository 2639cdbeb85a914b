"""Loading rows into the destination with dlt: resources and hints (resources.py), the pipeline's steps
(pipeline.py), soft deletes and history retirement from the read ledger (deletes.py, store.py, lake.py), and
what a destination needs (destinations.py, destination_check.py, history.py, privacy.py, locks.py)."""

import os

# dlt's defaults for openai-sync, here once (a user's environment or dlt config still wins):
# dlt logs tracebacks of what fails; openai-sync's own messages say it, without them
os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")

# Whenever Airflow can be imported (the `airflow` extra), dlt adds Airflow's Variables to its config providers,
# and every config lookup of every run then queries Airflow's metastore, which fails outside a configured
# Airflow and logs a traceback each time: 5 s to import Airflow, 2.5 ms a lookup, tens of thousands of tracebacks
# kept in memory (the large organization with every project key: 86 MiB more at the start, 135 MiB more at the
# peak). openai-sync takes none of its settings from Airflow's Variables; who wants them sets this to true.
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
# dlt holds each table's rows until this many are buffered (5,000 by default), then writes them: with some 50
# tables of dict rows, 1,000 takes 45 MiB off the large organization's peak with every project key, no slower.
os.environ.setdefault("DATA_WRITER__BUFFER_MAX_ITEMS", "1000")
