"""The counter-based sampler: its draws follow the warped distribution, its masks are Hugging
Face's, and a row's token is a function of its seed and the draw's place only."""

import pytest
import torch
from scipy.stats import chi2
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

from tests.unit.tts_engine.step.hugging_face import hf_warped
from tts_engine.step.counter_noise import draw_keys, log_uniform, mix32, row_key
from tts_engine.step.counter_sampling import (
    RowSettings,
    SamplerPlan,
    candidates,
    draw,
    penalise,
    plan_for,
    rank_noise,
    settings_row,
    warp,
)
from tts_engine.step.sampling import RowSampling as Setting


def row_settings(settings: list[Setting], vocab: int) -> RowSettings:
    columns = list(zip(*(settings_row(s, vocab) for s in settings), strict=True))
    dtypes = (torch.bool, torch.float32, torch.int64, torch.float32, torch.float32)
    return RowSettings(*(torch.tensor(c, dtype=d) for c, d in zip(columns, dtypes, strict=True)))


def keys_for(seeds: list[int], frames: list[int], codebook: int = 0, groups: int = 16) -> torch.Tensor:
    keys = torch.tensor([row_key(s) for s in seeds])
    return draw_keys(keys, torch.tensor(frames).unsqueeze(1) * groups + codebook)[:, 0]


def test_the_hash_is_pinned() -> None:
    """Known answers: the noise of a seed must never change between versions or devices (integer
    ops only: run the same test on a GPU to compare)."""
    assert row_key(0) == (1724551768, 3804073801)
    values = mix32(torch.tensor([0, 1, 2, 0xFFFFFFFF])).tolist()
    assert values == [0, 4293290225, 4291678691, 3846949589]
    keys = torch.tensor([row_key(7), row_key(2**62 + 5)])
    assert draw_keys(keys, torch.tensor([[0, 1, 2], [16000, 16001, 16002]])).tolist() == [
        [2984136153, 1085731275, 2186582032],
        [3691459543, 1475895932, 196426271],
    ]


def test_the_noise_is_uniform() -> None:
    keys = keys_for(list(range(200)), [3] * 200)
    u = log_uniform(keys.unsqueeze(1), torch.arange(2048).expand(200, -1)).exp().flatten()
    assert float(u.min()) > 0.0 and float(u.max()) < 1.0
    counts = torch.histc(u, bins=64, min=0.0, max=1.0)
    expected = u.numel() / 64
    statistic = float(((counts - expected) ** 2 / expected).sum())
    assert chi2.sf(statistic, 63) > 1e-4


LOGITS = torch.tensor([2.0, 1.6, 1.3, 1.1, 0.7, 0.4, 0.0, -0.5, -1.0, -2.0])


def chi_square_p(tokens: torch.Tensor, probs: torch.Tensor) -> float:
    counts = torch.bincount(tokens, minlength=probs.numel()).double()
    expected = probs.double() * tokens.numel()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    return float(chi2.sf(statistic, probs.numel() - 1))


@pytest.mark.parametrize("temperature", [0.7, 1.0, 1.5])
def test_draws_follow_the_softmax_of_the_warped_logits(temperature: float) -> None:
    draws = 200_000
    setting = Setting(True, temperature, 0, 1.0)
    rows = row_settings([setting] * draws, LOGITS.numel())
    scores = LOGITS.expand(draws, -1)
    # one row, many frames: the noise of successive draws of one seed
    plan = plan_for([setting], LOGITS.numel())
    tokens = draw(scores, rows, rank_noise(keys_for([12345] * draws, list(range(draws))), plan), plan)
    assert chi_square_p(tokens, torch.softmax(LOGITS / temperature, -1)) > 1e-3
    # the test can fail: a temperature 10% off is rejected
    assert chi_square_p(tokens, torch.softmax(LOGITS / (temperature * 1.1), -1)) < 1e-6


def hf_kept(scores: torch.Tensor, setting: Setting) -> torch.Tensor:
    return hf_warped(scores, torch.zeros(1, 0, dtype=torch.long), setting)[0] > -float("inf")


SETTINGS = [
    Setting(True, 0.9, 50, 1.0),
    Setting(True, 0.7, 10, 0.8),
    Setting(True, 1.0, 0, 0.5),
    Setting(True, 1.3, 3, 1.0),
    Setting(True, 1.0, 0, 0.95),
    Setting(True, 0.5, 200, 0.3),
]


@pytest.mark.parametrize("trial", range(10))
def test_the_masks_are_hugging_faces_warpers(trial: int) -> None:
    vocab = 300
    scores = torch.randn(len(SETTINGS), vocab, generator=torch.Generator().manual_seed(trial)) * 3
    probs, index = warp(scores, row_settings(SETTINGS, vocab), plan_for(SETTINGS, vocab))
    for row, setting in enumerate(SETTINGS):
        ours = torch.zeros(vocab, dtype=torch.bool)
        ours[index[row][probs[row] > 0]] = True
        assert torch.equal(ours, hf_kept(scores[row : row + 1], setting)), setting


def test_the_repetition_penalty_is_hugging_faces() -> None:
    scores = torch.randn(3, 50) * 2
    history = [torch.tensor([[1, 4, 4, 9]]), torch.tensor([[0]]), torch.tensor([[7, 8]])]
    seen = torch.zeros(3, 50, dtype=torch.bool)
    for row, ids in enumerate(history):
        seen[row, ids[0]] = True
    penalties = [1.3, 1.0, 0.8]
    ours = penalise(scores, seen, torch.tensor(penalties))
    for row, (ids, penalty) in enumerate(zip(history, penalties, strict=True)):
        expected = RepetitionPenaltyLogitsProcessor(penalty)(ids, scores[row : row + 1].clone())
        assert torch.equal(ours[row], expected[0])


def test_a_rows_token_depends_only_on_its_seed_and_place() -> None:
    vocab = 2048
    generator = torch.Generator().manual_seed(0)
    target = Setting(True, 0.8, 50, 0.9)
    others = [Setting(i % 3 != 0, 0.5 + i / 50, [0, 5, 50, 300][i % 4], 1.0 - i / 100) for i in range(63)]
    logits = torch.randn(64, vocab, generator=generator) * 3
    seeds, frames = [1000 + i for i in range(64)], [i * 7 for i in range(64)]
    for slot in (0, 17, 63):
        batch = [*others[:slot], target, *others[slot:]]
        order = [*range(1, slot + 1), 0, *range(slot + 1, 64)]
        keys = keys_for([seeds[i] for i in order], [frames[i] for i in order])
        plan, alone_plan = plan_for(batch, vocab), plan_for([target], vocab)
        together = draw(logits[order], row_settings(batch, vocab), rank_noise(keys, plan), plan)
        alone_noise = rank_noise(keys_for(seeds[:1], frames[:1]), alone_plan)
        alone = draw(logits[:1], row_settings([target], vocab), alone_noise, alone_plan)
        assert int(together[slot]) == int(alone[0])


def test_greedy_rows_take_the_argmax_and_an_all_greedy_batch_draws_no_noise() -> None:
    scores = torch.randn(4, 100)
    greedy = Setting(False, 0.9, 50, 1.0)
    mixed = [greedy, Setting(True, 1.0, 5, 1.0), greedy, Setting(True, 0.3, 0, 0.5)]
    plan = plan_for(mixed, 100)
    tokens = draw(scores, row_settings(mixed, 100), rank_noise(keys_for([1, 2, 3, 4], [0] * 4), plan), plan)
    assert tokens[0] == scores[0].argmax() and tokens[2] == scores[2].argmax()
    plan = plan_for([greedy] * 4, 100)
    assert not plan.sample
    assert rank_noise(keys_for([1, 2, 3, 4], [0] * 4), plan) is None
    tokens = draw(scores, row_settings([greedy] * 4, 100), None, plan)
    assert torch.equal(tokens, scores.argmax(-1))


@pytest.mark.parametrize(("width", "groups"), [(32, 8), (64, 4), (64, 8), (128, 4), (256, 4)])
def test_grouped_candidates_are_the_rows_best_in_order(width: int, groups: int) -> None:
    scores = torch.randn(9, 2048, generator=torch.Generator().manual_seed(width + groups))
    values, ids = candidates(scores, SamplerPlan(width, top_p=False, sample=True, groups=groups))
    expected = torch.topk(scores, width, dim=-1)
    assert torch.equal(values, expected.values) and torch.equal(ids, expected.indices)


def test_grouped_candidates_keep_the_best_values_when_scores_tie() -> None:
    scores = torch.randint(-6, 6, (6, 1024), generator=torch.Generator().manual_seed(3)).float()
    values, ids = candidates(scores, SamplerPlan(64, top_p=False, sample=True, groups=4))
    assert torch.equal(values, torch.topk(scores, 64, dim=-1).values)
    assert torch.equal(scores.gather(1, ids), values)
    assert all(len(set(row)) == 64 for row in ids.tolist())


def test_plans_group_candidates_only_where_it_saves_work() -> None:
    sampled, greedy = [Setting(True, 0.9, 50, 1.0)], [Setting(False, 0.9, 50, 1.0)]
    assert plan_for(sampled, 2048, groups=4).groups == 4
    assert plan_for(sampled, 2048).groups == 0
    assert plan_for([Setting(True, 0.9, 1000, 1.0)], 2048, groups=4).groups == 0  # width 1024: no saving
    assert plan_for(greedy, 2048, groups=4) == plan_for(greedy, 2048)  # an argmax: no candidates
