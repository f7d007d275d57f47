"""Asynchronous jobs: a durable FIFO queue in the database (queue.py), the worker loop that claims
and runs them (worker.py, runner.py) and the SSE progress stream (events.py)."""
