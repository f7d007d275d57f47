"""CPU seconds per process group from /proc: a busy child is counted under its role, per item."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks import proc_cpu

BUSY = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def test_a_process_groups_cpu_is_counted_by_role_and_per_item() -> None:
    child = subprocess.Popen([sys.executable, "-c", BUSY], start_new_session=True)  # a group of its own
    try:
        before = proc_cpu.snapshot([child.pid], client=True)
        deadline = time.monotonic() + 30
        while proc_cpu.snapshot([child.pid]).get("api", 0.0) - before.get("api", 0.0) < 0.25:
            assert time.monotonic() < deadline, "the child's CPU time never showed"
            time.sleep(0.05)
        after = proc_cpu.snapshot([child.pid], client=True)
    finally:
        child.kill()
        child.wait()
    assert set(after) == {"api", "client"}  # a python program: the API's role; nothing else in its group
    spent = proc_cpu.per_item_ms(before, after, items=10)
    assert spent["api"] >= 25 and spent["total"] == round(spent["api"] + spent["client"], 2)
