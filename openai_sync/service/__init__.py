"""`openai-sync serve`: the connector as a long-running agent. A scheduler syncs every configured connection on
its own schedule, each run in a child process (`child.py`); its state is local (`state.py`), its history also in
the destination (`history.py`); the console and the machine endpoints (`web/`) run in the same process."""
