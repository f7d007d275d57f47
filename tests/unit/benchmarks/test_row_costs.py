"""The row-cost benchmark measures the short request's step alone and beside the long rows, with
and without sampling, and names the ops that grow (on the tiny checkpoint: a smoke run)."""

from __future__ import annotations

from benchmarks.bench import FOLDER
from benchmarks.row_costs import measure
from devtools.servers import TINY_DIR


def test_a_step_beside_long_rows_costs_more_and_the_ops_that_grow_are_named() -> None:
    found = measure(TINY_DIR / FOLDER, steps=3, repeats=2)
    cpu = found["step_cpu_ms"]
    assert set(cpu) == {"idle", "busy", "idle_greedy", "busy_greedy"}
    assert all(ms > 0 for ms in cpu.values())
    assert found["busy_over_idle"] > 1.0 and found["busy_over_idle_greedy"] > 1.0  # 9 rows cost more than 1
    assert found["ms_per_added_row"] > 0
    ops = found["ops"]
    assert ops and all(op["op"].startswith("aten::") for op in ops)
    growth = [op["busy_us"] - op["idle_us"] for op in ops]
    assert growth == sorted(growth, reverse=True)
