"""Loading rows into the destination with dlt: resources and hints (resources.py), the pipeline's steps
(pipeline.py), soft deletes and history retirement from the read ledger (deletes.py, store.py, lake.py), and
what a destination needs (destinations.py, destination_check.py, history.py, privacy.py, locks.py)."""
