"""Asynchronous jobs: the worker loop that claims and runs them (worker.py, runner.py) and the SSE
progress stream (events.py). The durable FIFO queue itself is in the store (api/store/job_queue.py,
api/store/jobs.py)."""
