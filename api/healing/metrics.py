"""Metrics of the healer (api/healing/healer.py), exported with the API's own (api/metrics.py).

    qwen_tts_model_deaths_total{model}            counter (backends found dead by this process)
    qwen_tts_model_reloads_total{model,outcome}   counter (reloads this process did: success, failure)
    qwen_tts_model_probes_total{model,outcome}    counter (probes: alive, dead, no_answer, absent)
    qwen_tts_model_up{model}                      gauge (1 serving, 0 reported down)

Every replica that sees a death counts it (aggregate deaths with max by model); a reload is counted
by the one replica that did it (sum). A successful probe is one request in Triton's statistics.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEATHS = Counter(
    "qwen_tts_model_deaths_total",
    "Times this process found a model's backend dead (its stub process gone, or its generation loop stopped).",
    ["model"],
)
RELOADS = Counter(
    "qwen_tts_model_reloads_total",
    "Reloads (unload, then load) of a dead model done by this process, by outcome (success, failure).",
    ["model", "outcome"],
)
PROBES = Counter(
    "qwen_tts_model_probes_total",
    "Health probes of the models (answered without generating), by outcome: alive, dead, no_answer, absent.",
    ["model", "outcome"],
)
UP = Gauge(
    "qwen_tts_model_up",
    "1 while a model serves, 0 while this process reports it down (dead, or being reloaded).",
    ["model"],
    multiprocess_mode="livemostrecent",
)

METRIC_NAMES = frozenset(
    {"qwen_tts_model_deaths_total", "qwen_tts_model_reloads_total", "qwen_tts_model_probes_total", "qwen_tts_model_up"}
)
