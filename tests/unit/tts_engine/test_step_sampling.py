"""Per-row sampling against Hugging Face's own logits processors and torch.multinomial."""

import pytest
import torch
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from tts_engine.step_sampling import RowSampling, apply_repetition_penalty, sample

ROWS = [
    RowSampling(True, 0.9, 50, 1.0, 1.05),
    RowSampling(True, 0.7, 10, 0.8, 1.3),
    RowSampling(True, 1.0, 0, 0.5, 1.0),
    RowSampling(False, 0.9, 50, 1.0, 1.05),
    RowSampling(True, 1.3, 3, 1.0, 1.0),
]


def hf_row(scores: torch.Tensor, history: torch.Tensor, row: RowSampling, generator: torch.Generator) -> int:
    """What HF generate does for one sequence with these scalar settings (transformers 4.57 order)."""
    scores = RepetitionPenaltyLogitsProcessor(row.repetition_penalty)(history, scores.clone())
    if not row.do_sample:
        return int(torch.argmax(scores, dim=-1)[0])
    if row.temperature != 1.0:
        scores = TemperatureLogitsWarper(row.temperature)(history, scores)
    if row.top_k:
        scores = TopKLogitsWarper(row.top_k)(history, scores)
    if row.top_p < 1.0:
        scores = TopPLogitsWarper(row.top_p)(history, scores)
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return int(torch.multinomial(probs, num_samples=1, generator=generator)[0, 0])


@pytest.mark.parametrize("trial", range(20))
def test_each_row_draws_what_hf_draws_for_it_alone(trial: int) -> None:
    vocab = 300
    logits = torch.randn(len(ROWS), vocab, generator=torch.Generator().manual_seed(trial)) * 4
    histories = [
        torch.randint(0, vocab, (1, 5), generator=torch.Generator().manual_seed(trial + i)) for i in range(len(ROWS))
    ]
    seen = torch.zeros(len(ROWS), vocab, dtype=torch.bool)
    for i, history in enumerate(histories):
        seen[i, history[0]] = True
    ours = sample(
        apply_repetition_penalty(logits, seen, [r.repetition_penalty for r in ROWS]),
        ROWS,
        [torch.Generator().manual_seed(100 + i) for i in range(len(ROWS))],
    )
    for i, row in enumerate(ROWS):
        expected = hf_row(logits[i : i + 1], histories[i], row, torch.Generator().manual_seed(100 + i))
        assert int(ours[i]) == expected, f"row {i} ({row})"


def test_a_rows_draw_leaves_its_generator_where_multinomial_would() -> None:
    probs = torch.softmax(torch.randn(1, 2048) * 3, dim=-1)
    ours, theirs = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    sample(torch.log(probs), [RowSampling(True, 1.0, 0, 1.0)], [ours])
    torch.multinomial(probs, 1, generator=theirs)
    assert torch.rand(4, generator=ours).tolist() == torch.rand(4, generator=theirs).tolist()


def test_neighbours_do_not_change_a_rows_draw() -> None:
    logits = torch.randn(6, 500) * 3
    row = RowSampling(True, 0.8, 20, 0.9)
    alone = sample(logits[2:3], [row], [torch.Generator().manual_seed(9)])
    others = [RowSampling(bool(i % 2), 0.5 + i / 10, i * 3, 1.0 - i / 20) for i in range(6)]
    others[2] = row
    gens = [torch.Generator().manual_seed(i) for i in range(6)]
    gens[2] = torch.Generator().manual_seed(9)
    assert int(sample(logits, others, gens)[2]) == int(alone[0])
