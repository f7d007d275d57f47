"""The local harness that tests and benchmarks share: start the real Triton server and API as
subprocesses (servers.py), call the decoupled models over gRPC streaming (streaming.py), make
throw-away PostgreSQL databases (databases.py). Never part of an image."""
