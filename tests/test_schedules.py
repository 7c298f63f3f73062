"""Unit tests for nint_lite.schedules: every formula against paper-notes §2–§3, by hand."""
import math

import pytest

from nint_lite import baselines as B, schedules as S


# --------------------------------------------------------------------------- ratio schedules

@pytest.mark.parametrize("t", [0, 1, 50, 99])
def test_ratio_constant(t):
    assert S.ratio("constant", t, 100, 0.2) == pytest.approx(0.2)
    assert S.ratio("constant", t, 100, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("t, want", [
    (0, 0.2),                        # ρ0
    (500, 0.2 + 0.5 * 0.8),          # T/2: halfway to 1 -> 0.6
    (250, 0.2 + 0.25 * 0.8),         # 0.4
    (999, 0.2 + 0.999 * 0.8),        # T-1: just below 1
])
def test_ratio_linear(t, want):
    got = S.ratio("linear", t, 1000, 0.2)
    assert got == pytest.approx(want, abs=1e-12)
    assert got < 1.0


def test_ratio_linear_hand_values():
    assert S.ratio("linear", 500, 1000, 0.2) == pytest.approx(0.6)
    assert S.ratio("linear", 999, 1000, 0.2) == pytest.approx(0.9992)
    assert S.ratio("linear", 30, 60, 0.5) == pytest.approx(0.75)


@pytest.mark.parametrize("T", [100, 1000, 5000])
def test_ratio_step_boundaries(T):
    # min(ρ0 + ⌊t/(T/10)⌋·(1 − ρ0)/10, 1): ten plateaus of width T/10, each 0.08 higher (ρ0=0.2)
    w = T // 10
    assert S.ratio("step", 0, T, 0.2) == pytest.approx(0.2)
    assert S.ratio("step", w - 1, T, 0.2) == pytest.approx(0.2)        # last step of plateau 0
    assert S.ratio("step", w, T, 0.2) == pytest.approx(0.28)           # first of plateau 1
    assert S.ratio("step", 2 * w - 1, T, 0.2) == pytest.approx(0.28)
    assert S.ratio("step", 2 * w, T, 0.2) == pytest.approx(0.36)
    assert S.ratio("step", T // 2 - 1, T, 0.2) == pytest.approx(0.52)  # plateau 4
    assert S.ratio("step", T // 2, T, 0.2) == pytest.approx(0.60)      # T/2: plateau 5
    assert S.ratio("step", T - 1, T, 0.2) == pytest.approx(0.92)       # T−1: plateau 9, never 1


def test_ratio_step_all_plateaus_and_cap():
    T = 5000
    for t in range(0, T, 37):
        want = 0.2 + (t // 500) * 0.08
        assert S.ratio("step", t, T, 0.2) == pytest.approx(want, abs=1e-12), t
    # past T the formula would exceed 1: capped
    assert S.ratio("step", 2 * T, T, 0.2) == 1.0
    assert S.ratio("linear", 2 * T, T, 0.2) == 1.0


def test_ratio_schedules_are_monotone():
    for kind in ("linear", "step"):
        vals = [S.ratio(kind, t, 200, 0.3) for t in range(200)]
        assert all(b >= a for a, b in zip(vals, vals[1:])), kind
        assert vals[0] == pytest.approx(0.3)


@pytest.mark.parametrize("kind", ["constant", "linear", "step"])
@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5])
def test_ratio_invalid_rho(kind, bad):
    with pytest.raises(ValueError, match="ratio"):
        S.ratio(kind, 0, 100, bad)


def test_ratio_unknown_schedule():
    with pytest.raises(ValueError) as e:
        S.ratio("cosine", 0, 100, 0.2)
    for valid in ("constant", "linear", "step"):
        assert valid in str(e.value)


def test_ratio_one_is_valid():
    assert S.ratio("constant", 3, 10, 1.0) == 1.0
    assert S.ratio("step", 9, 10, 1.0) == 1.0


# --------------------------------------------------------------------------- interval strategies

def _selection_steps(kind, T):
    return [t for t in range(T) if S.is_selection_step(kind, t, T)]


def test_dense_selects_every_step():
    assert _selection_steps("dense", 137) == list(range(137))


def test_incremental_5000_exact_count():
    assert len(_selection_steps("incremental", 5000)) == 1422


def test_incremental_5000_structure():
    steps = _selection_steps("incremental", 5000)
    # dense for the first 25 %: 0 … 1249
    assert steps[:1250] == list(range(1250))
    # then five equal phases of 750 steps with intervals 10, 20, 30, 40, 50
    for k, interval in enumerate((10, 20, 30, 40, 50)):
        lo, hi = 1250 + 750 * k, 1250 + 750 * (k + 1)
        in_phase = [t for t in steps if lo <= t < hi]
        assert in_phase[0] == lo, (k, in_phase[:3])
        gaps = {b - a for a, b in zip(in_phase, in_phase[1:])}
        assert gaps == {interval}, (k, gaps)
        assert len(in_phase) == math.ceil(750 / interval)
    # hand sum: 1250 + 75 + 38 + 25 + 19 + 15
    assert 1250 + 75 + 38 + 25 + 19 + 15 == 1422


def test_incremental_short_run():
    # T = 100: dense until 25, phases of 15 steps starting at 25, 40, 55, 70, 85
    want = list(range(25)) + [25, 35, 40, 55, 70, 85]
    assert _selection_steps("incremental", 100) == want


def test_unknown_interval():
    with pytest.raises(ValueError) as e:
        S.is_selection_step("sparse", 0, 100)
    assert "dense" in str(e.value) and "incremental" in str(e.value)


# --------------------------------------------------------------------------- EVOS key iterations

def test_evos_72_key_iterations_in_5000():
    keys = [t for t in range(5000) if B.evos_is_key(t, 5000)]
    assert len(keys) == 72


def test_evos_key_hand_cases():
    T = 5000
    assert not B.evos_is_key(0, T)           # 0 mod 100 = 0
    assert B.evos_is_key(1, T)               # 1 mod 100 = 1
    assert not B.evos_is_key(2, T)
    assert B.evos_is_key(101, T) is False    # ⌊100 − 1.01⌋ = 98; 101 mod 98 = 3
    # t = 99: ⌊100 − 0.99⌋ = 99 -> 99 mod 99 = 0; t = 100: ⌊99⌋ = 99 -> 1 -> key
    assert not B.evos_is_key(99, T)
    assert B.evos_is_key(100, T)
    # late: ⌊100 − 50·4999/5000⌋ = 50; key steps there are ≡ 1 (mod 50)
    assert B.evos_is_key(4951, T) and not B.evos_is_key(4950, T)
    # the gap between consecutive keys shrinks from ~100 to ~50
    keys = [t for t in range(T) if B.evos_is_key(t, T)]
    gaps = [b - a for a, b in zip(keys, keys[1:])]
    assert 95 <= gaps[0] <= 100 and 50 <= gaps[-1] <= 55


# --------------------------------------------------------------------------- NINT shares

def test_nint_share_paper_defaults():
    assert S.nint_share(0) == pytest.approx(0.3, rel=1e-12)
    assert S.nint_share(10) == pytest.approx(0.3 * math.exp(-1), rel=1e-12)
    assert S.nint_share(50) == pytest.approx(0.3 * math.exp(-5), rel=1e-12)
    # 0.3·e^−5 = 0.00202 (paper-notes §2 quotes "0.0015 at t = 50", which is 0.3·e^−5.3)
    assert S.nint_share(50) == pytest.approx(0.0020214, rel=1e-4)


def test_nint_share_parameters():
    # (1 − ξ)·exp(−λ t / α) with other parameters
    assert S.nint_share(4, xi=0.5, lam=2.0, alpha=8.0) == pytest.approx(0.5 * math.exp(-1))
    assert S.nint_share(123, xi=0.0, lam=0.0) == pytest.approx(1.0)
    assert S.nint_share(0, xi=1.0) == 0.0


def test_nint_share_official():
    for c in range(1, 11):
        assert S.nint_share_official(c) == pytest.approx(0.1104, abs=5e-5), c
        assert S.nint_share_official(c) == pytest.approx(0.3 / math.e)
    for c in range(11, 21):
        assert S.nint_share_official(c) == pytest.approx(0.3 * math.exp(-2)), c
    assert S.nint_share_official(50) == pytest.approx(0.3 * math.exp(-5))
    assert all(S.nint_share_official(c) >= 1e-3 for c in range(1, 51))
    assert all(S.nint_share_official(c) < 1e-3 for c in range(51, 200))


# --------------------------------------------------------------------------- Soft Mining

def test_soft_exponent():
    assert B.soft_exponent(0) == 0.0
    assert B.soft_exponent(250) == pytest.approx(0.25)
    assert B.soft_exponent(599) == pytest.approx(0.599)
    assert B.soft_exponent(599) < 0.6
    assert B.soft_exponent(600) == pytest.approx(0.6)
    assert B.soft_exponent(601) == pytest.approx(0.6)
    assert B.soft_exponent(5000) == pytest.approx(0.6)
