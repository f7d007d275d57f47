"""Per-row sampling against Hugging Face's own logits processors and torch.multinomial."""

import pytest
import torch
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

from tests.unit.tts_engine.step.hugging_face import hf_warped
from tts_engine.step.noise import NoiseRow, NoiseSource, single_draw
from tts_engine.step.sampling import RowSampling, apply_repetition_penalty, sample

CPU = torch.device("cpu")

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
    probs = torch.nn.functional.softmax(hf_warped(scores, history, row), dim=-1)
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
    noise = torch.cat([single_draw(torch.Generator().manual_seed(100 + i), vocab, CPU) for i in range(len(ROWS))])
    ours = sample(apply_repetition_penalty(logits, seen, [r.repetition_penalty for r in ROWS]), ROWS, noise)
    for i, row in enumerate(ROWS):
        expected = hf_row(logits[i : i + 1], histories[i], row, torch.Generator().manual_seed(100 + i))
        assert int(ours[i]) == expected, f"row {i} ({row})"


def test_a_rows_draw_leaves_its_generator_where_multinomial_would() -> None:
    probs = torch.softmax(torch.randn(1, 2048) * 3, dim=-1)
    ours, theirs = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    sample(torch.log(probs), [RowSampling(True, 1.0, 0, 1.0)], single_draw(ours, 2048, CPU))
    torch.multinomial(probs, 1, generator=theirs)
    assert torch.rand(4, generator=ours).tolist() == torch.rand(4, generator=theirs).tolist()


def test_neighbours_do_not_change_a_rows_draw() -> None:
    logits = torch.randn(6, 500) * 3
    row = RowSampling(True, 0.8, 20, 0.9)
    alone = sample(logits[2:3], [row], single_draw(torch.Generator().manual_seed(9), 500, CPU))
    others = [RowSampling(bool(i % 2), 0.5 + i / 10, i * 3, 1.0 - i / 20) for i in range(6)]
    others[2] = row
    gens = [torch.Generator().manual_seed(i) for i in range(6)]
    gens[2] = torch.Generator().manual_seed(9)
    noise = torch.cat([single_draw(g, 500, CPU) for g in gens])
    assert int(sample(logits, others, noise)[2]) == int(alone[0])


@pytest.mark.parametrize("ahead", [False, True])
def test_a_steps_noise_drawn_ahead_equals_the_draws_made_one_by_one(ahead: bool) -> None:
    groups, pv, tv = 4, 64, 96
    flags = [(True, True), (False, True), (True, False), (False, False)] * 3
    source = NoiseSource(groups=groups, predictor_vocab=pv, talker_vocab=tv, device=CPU, ahead=ahead)
    generators = [torch.Generator().manual_seed(i) for i in range(len(flags))]
    rows = [
        NoiseRow(i, RowSampling(p, 1.0, 0, 1.0), RowSampling(t, 1.0, 0, 1.0), generators[i])
        for i, (p, t) in enumerate(flags)
    ]
    first = source.take(rows)
    source.draw_ahead(rows[2:])  # rows 0 and 1 leave the batch after the first step
    second = source.take(rows[:0:-1])  # and come back (row 1) in another order
    source.close()
    for row, (predictor, talker) in enumerate(flags):
        one_by_one = torch.Generator().manual_seed(row)
        steps = [(first, row)] + ([(second, len(flags) - 1 - row)] if row else [])
        for noise, index in steps:
            for group in range(groups - 1):
                if predictor:
                    assert torch.equal(noise.predictor(group)[index], single_draw(one_by_one, pv, CPU)[0])
            if talker:
                assert torch.equal(noise.talker()[index], single_draw(one_by_one, tv, CPU)[0])
