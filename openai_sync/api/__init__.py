"""Talking to the OpenAI Platform API: errors, keys, the client (bound, pace, counters), pagination and the one
parallel fan-out primitive. Knows the HTTP contract, not the tables (only `catalog` may be imported from here)."""
