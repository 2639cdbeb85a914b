"""openai-sync under the orchestrators teams already run: Dagster (dagster.py) and Airflow (airflow.py), each an
optional extra. The modules `openai_sync.dagster` and `openai_sync.airflow` are what the orchestrators load."""
