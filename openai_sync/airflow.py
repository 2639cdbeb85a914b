"""For Airflow's DAG folder: `from openai_sync.airflow import dags; globals().update(dags())` makes one DAG per
connection of the config file (orchestration/airflow.py)."""

from .orchestration.airflow import dag_for, dags

__all__ = ["dag_for", "dags"]
