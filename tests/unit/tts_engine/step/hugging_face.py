"""Hugging Face's own logits warpers: the reference both samplers are checked against."""

import torch
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from tts_engine.step.sampling import RowSampling


def hf_warped(scores: torch.Tensor, history: torch.Tensor, row: RowSampling) -> torch.Tensor:
    """`scores` (one row) as HF generate warps them with these settings (transformers 4.57 order):
    temperature, then top-k, then top-p; the tokens it drops are -inf."""
    if row.temperature != 1.0:
        scores = TemperatureLogitsWarper(row.temperature)(history, scores)
    if row.top_k:
        scores = TopKLogitsWarper(row.top_k)(history, scores)
    if row.top_p < 1.0:
        scores = TopPLogitsWarper(row.top_p)(history, scores)
    return scores
