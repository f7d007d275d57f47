"""Benchmarks: each module measures one part on this machine and reports ratios against a baseline
measured in the same run (never asserted). Run from the repository root:

    python -m benchmarks.bench           # the engine: throughput, latency, time to first audio (scripts/bench.sh)
    python -m benchmarks.api_calls       # the deployed path: one call, 8 concurrent callers
    python -m benchmarks.cloned_voice    # a stored clone prompt against a raw reference, through the API
    python -m benchmarks.clone_prompt    # the same in the engine alone
    python -m benchmarks.encoding        # audio encoding and decoding cost per format
    python -m benchmarks.job_queue       # the job queue alone (PostgreSQL): throughput and start delay
    python -m benchmarks.batch           # a batch (POST /batches) against the same items one by one
    python -m benchmarks.row_costs       # a step's CPU time alone and beside 8 long rows: what bounds the bench's (d)
    python -m benchmarks.gpu_check       # the engine in-process on real-size random checkpoints (README: GPU check)
    python -m benchmarks.soak            # the full stack under mixed traffic for a while: memory and fds per process

They start their servers with devtools/ (as the tests do) and never import tests/.
"""
