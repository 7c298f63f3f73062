"""Which coordinates to train on each step: NINT, its simple rivals, one Sampler interface.

    sampler = make_sampler("nint", ratio=0.2, seed=0)
    sampler.bind(model, coords, values, shape, steps=T)   # once per fit (fit does this for you)
    sel = sampler(t)                                      # each step t = 0 … T−1 -> Selection
    loss = sampler.loss(model(coords[sel.indices]), values[sel.indices], sel, t)

`bind` wraps what a sampler may look at in a `View`: coords (N, d), values (N, C), the grid shape
and kind, the model, T, and `view.residuals()` — f(X) − Y over all N, computed lazily without
autograd in chunks and cached for the step, so samplers that need no full pass never trigger one.
Each sampler owns a seeded `torch.Generator`; nothing global is touched.

    full     all N every step
    uniform  B uniformly at random, fresh each step (no full pass)
    int      top-B by Σ_c |r| (INT, ICML 2024), dense or incremental re-selection
    nint     NINT: NTK top by ‖(K r)_i‖ + error top + uniform, with the paper's share decay

The baselines (egra, soft, evos, expansive) live in nint_lite.baselines and register themselves
here with `register`; kernel scores beyond the paper register with `register_score`.

Built in notebooks/04_errors_to_scores.ipynb.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from . import ntk, schedules

__all__ = ["make_sampler", "mse", "register", "register_score", "SAMPLERS", "NINT_SCORES", "Selection",
           "View", "Sampler", "Full", "Uniform", "INT", "INT_PUBLISHED", "NINT"]


@dataclass
class Selection:
    """indices: (B,) long on the run's device; weights: (B,) per-sample loss weights or None;
    full: True when indices are all N in order (the trainer then skips the gather).
    coords: (B, d), targets: (B, C) — set by samplers that train on positions off the grid (Soft
    Mining): the trainer uses them instead of x[indices], y[indices] (indices: nearest nodes)."""

    indices: torch.Tensor
    weights: torch.Tensor | None = None
    full: bool = False
    coords: torch.Tensor | None = None
    targets: torch.Tensor | None = None


def mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the B coordinates of the channel-mean squared error, (B, C) -> 0-d;
    weights (B,) multiply each coordinate's term."""
    per = torch.mean((pred - target) ** 2, dim=1)
    return per.mean() if weights is None else (weights * per).mean()


class View:
    """What a sampler may look at during a fit (see module docstring)."""

    def __init__(self, model, coords, values, shape=None, kind="image", steps=1, chunk_size=65536,
                 forward=None, optimizer=None):
        self.model, self.coords, self.values = model, coords, values
        self.forward = model if forward is None else forward  # e.g. a torch.compile'd forward
        shape = (coords.shape[0],) if shape is None else shape
        self.shape, self.kind, self.steps, self.chunk_size = tuple(shape), kind, int(steps), chunk_size
        self.optimizer = optimizer  # for scores that use the optimiser's state (beyond/)
        self._residuals = None

    @property
    def n(self) -> int:
        return self.coords.shape[0]

    @property
    def device(self) -> torch.device:
        return self.coords.device

    def new_step(self):
        """Forget the cached residuals: the model changed."""
        self._residuals = None

    def residuals_at(self, idx: torch.Tensor | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        """f(X[idx]) − Y[idx], (len(idx), C) float32 (idx None: all N), uncached, chunked, under
        inference_mode and, with dtype (torch.bfloat16 / float16), autocast: for rankings only."""
        x, y = (self.coords, self.values) if idx is None else (self.coords[idx], self.values[idx])
        with torch.inference_mode(), torch.autocast(self.device.type, dtype, enabled=dtype is not None):
            return torch.cat([self.forward(x[s:s + self.chunk_size]).float() for s in range(0, len(x), self.chunk_size)]) - y

    def residuals(self) -> torch.Tensor:
        """f(X) − Y for all N coordinates: (N, C), no autograd, chunked, cached per step."""
        if self._residuals is None:
            was = self.model.training
            self.model.eval()
            # no_grad, not inference_mode: NINT feeds r to a VJP as a cotangent.
            r = torch.empty_like(self.values)  # filled in place: no N-sized temporaries
            with torch.no_grad():
                for s in range(0, self.n, self.chunk_size):
                    r[s:s + self.chunk_size] = self.forward(self.coords[s:s + self.chunk_size])
                r -= self.values
            self._residuals = r
            self.model.train(was)
        return self._residuals


class Sampler:
    """Base class: ratio ρ0 ∈ (0, 1], a ratio schedule, and a seeded generator."""

    name = "base"
    fixed_shape = True  # the batch has the same size every step (with a constant ratio schedule)

    def __init__(self, ratio: float = 0.2, seed: int = 0, schedule: str = "constant"):
        schedules.ratio(schedule, 0, 1, ratio)  # validates ratio and schedule name
        self.rho0, self.seed, self.schedule = float(ratio), int(seed), schedule
        self.view = None

    def setup(self, view: View):
        """Start a fit on `view`: fresh generator and state (a sampler can be reused)."""
        self.view, self.n = view, view.n
        self.generator = torch.Generator(device=view.device).manual_seed(self.seed)

    def bind(self, model, coords, values, shape=None, steps: int = 1, kind: str = "image",
             chunk_size: int = 65536, optimizer=None) -> "Sampler":
        """setup() on a View of your own model and data, for use in a loop you write; returns self.
        coords: (N, d), values: (N, C), shape: the grid (default (N,)), steps: T."""
        self.setup(View(model, coords, values, shape, kind, steps, chunk_size, optimizer=optimizer))
        return self

    def __call__(self, t: int) -> Selection:
        """This step's selection: the model changed since the last call, so residuals are redone."""
        self.view.new_step()
        return self.select(t)

    def state_dict(self) -> dict:
        """What a resumed fit needs to continue exactly: the generator's state and the sampler's
        own tensors and numbers (caches, counters, positions), on the CPU."""
        simple = (torch.Tensor, int, float, bool, str, type(None))
        attrs = {k: v.cpu() if torch.is_tensor(v) else v for k, v in vars(self).items()
                 if k not in ("view", "generator") and isinstance(v, simple)}
        return {"generator": self.generator.get_state(), "attrs": attrs}

    def load_state_dict(self, state: dict) -> None:
        """Undo state_dict(), after setup() on the resumed fit's view."""
        self.generator.set_state(state["generator"])
        for k, v in state["attrs"].items():
            setattr(self, k, v.to(self.view.device) if torch.is_tensor(v) else v)

    def batch_size(self, t: int, T: int) -> int:
        return max(1, min(self.n, round(schedules.ratio(self.schedule, t, T, self.rho0) * self.n)))

    def select(self, t: int, view: View | None = None) -> Selection:
        raise NotImplementedError

    def loss(self, pred, target, sel: Selection, t: int = 0, view: View | None = None) -> torch.Tensor:
        """Mean squared error over the selection, per-sample weighted when sel.weights is set."""
        return mse(pred, target, sel.weights)

    # --- helpers shared by subclasses
    def _random_excluding(self, k: int, excluded: torch.Tensor | None) -> torch.Tensor:
        """k distinct indices uniformly from those not in `excluded` (a bool mask or index tensor)."""
        keys = torch.rand(self.n, generator=self.generator, device=self.generator.device)
        if excluded is not None and excluded.numel():
            # masked_fill / index_fill, not keys[excluded] = …: no data-dependent shapes
            keys = (keys.masked_fill(excluded, 2.0) if excluded.dtype == torch.bool
                    else keys.index_fill(0, excluded, 2.0))  # 2 is never among the k smallest
        return torch.topk(keys, k, largest=False).indices


class Full(Sampler):
    name = "full"

    def __init__(self, ratio: float = 1.0, seed: int = 0, schedule: str = "constant"):
        super().__init__(1.0, seed, "constant")

    def setup(self, view):
        super().setup(view)
        self.all = Selection(torch.arange(view.n, device=view.device), full=True)

    def select(self, t, view=None):
        return self.all


class Uniform(Sampler):
    name = "uniform"

    def select(self, t, view=None):
        b = self.batch_size(t, self.view.steps)
        return Selection(torch.randperm(self.n, generator=self.generator, device=self.generator.device)[:b])


# INT's published image setting, read from its official code (github.com/stevolopolis/nmt_inr):
# scripts/train_image.sh (model siren, ratio 0.2, scheduler "step", strategy "incremental",
# lr_scheduler "cosine", top_k 1, Adam) with config/train_image.yaml (NETWORK_CONFIGS.lr 1e-3,
# the lr train_image.py gives Adam; iterations 5000) and config/model_config/siren.yaml (5 layers
# × 256, w0 = w0_initial = 30, coords [-1, 1], values [0, 1]). train_image.py builds
# CosineAnnealingLR(T_max=iterations, eta_min=1e-6); fit's "cosine" anneals to 0 instead.
# Use: fit(model, sig, make_sampler("int", preset="published"), steps=INT_PUBLISHED["steps"],
#          lr=INT_PUBLISHED["lr"], lr_schedule=INT_PUBLISHED["lr_schedule"]).
INT_PUBLISHED = {"ratio": 0.2, "schedule": "step", "interval": "incremental", "lr": 1e-3,
                 "lr_schedule": "cosine", "steps": 5000, "model": {"hidden": 256, "layers": 5}}


class INT(Sampler):
    """Top-B by the ℓ1 residual over channels; re-selected per the interval strategy.
    preset="published": INT's published image setting (INT_PUBLISHED: ratio schedule "step",
    interval "incremental"); the lr and its schedule are fit's to set, from INT_PUBLISHED."""

    name = "int"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", interval="dense", preset=None):
        if preset not in (None, "published"):
            raise ValueError(f"unknown preset {preset!r}; valid: None, 'published'")
        if preset == "published":
            schedule, interval = INT_PUBLISHED["schedule"], INT_PUBLISHED["interval"]
        super().__init__(ratio, seed, schedule)
        schedules.is_selection_step(interval, 0, 1)
        self.interval = interval

    def setup(self, view):
        super().setup(view)
        self.cached, self.selections = None, 0

    def select(self, t, view=None):
        view = view or self.view
        if self.cached is None or schedules.is_selection_step(self.interval, t, view.steps):
            err = view.residuals().abs().sum(1)
            self.cached = torch.topk(err, self.batch_size(t, view.steps)).indices
            self.selections += 1
        return Selection(self.cached)


def _check_share(name, v):
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    return float(v)


# name -> fn(view, sampler) -> (N,) scores for NINT's NTK set; nint_lite.beyond adds more.
NINT_SCORES = {
    "ntk": lambda view, s: ntk.nint_scores(view.model, view.coords, view.residuals(), s.chunk_size),
    # THE OFFICIAL CODE'S BUG: ‖f(x_i)‖² (see ntk.output_norm_scores)
    "output_norm": lambda view, s: ntk.output_norm_scores(view.model, view.coords, view.residuals(),
                                                          s.chunk_size),
    "error": lambda view, s: view.residuals().norm(dim=1),  # no kernel at all: the control
}


def register_score(name: str, fn) -> None:
    """Make `fn(view, sampler) -> (N,)` available as make_sampler("nint", score=name)."""
    NINT_SCORES[name] = fn


class NINT(Sampler):
    """NINT's mix: an NTK set (top ‖(K r)_i‖), an error set (top ‖r_i‖ among the rest) and a
    random set (ξ·B uniformly among the rest), disjoint.

    Paper (default): NTK share (1 − ξ)·exp(−λ t / α), ξ = 0.7, λ = 1, α = 10; the score is
    recomputed every `refresh` (= α) steps and the cached ranking reused in between.
    ntk_share=float: hold the NTK share constant instead (for ablations).
    variant="official": the released code's schedule — share 0.3·exp(floor(−c/10)) with a
        selection counter c = t + 1, refresh at c = 1 and every α-th c, NTK switched off for
        good once the share falls below 1e-3, ℓ1 error, cached NTK index set reused as is.
    score: a name in NINT_SCORES — "ntk" (the paper), "output_norm" (THE OFFICIAL CODE'S BUG,
        ‖f(x_i)‖²), "error" (no kernel: the control), and those nint_lite.beyond registers
        ("sender", "leverage", "last_layer", "adam") — or a function fn(view, sampler) -> (N,).
    With ntk_share + xi = 1 there is no error part, so no full forward pass is needed between
    refreshes: the batch is the cached score set plus uniform picks, nearly as cheap as uniform.
    pick="sample": draw the NTK set ∝ score without replacement instead of taking the top.
    errors: how the error set is ranked (issue 18's study; each costs less than "fresh"):
        "fresh" (the paper) ‖r_i‖ over all N every step; "pool" over a fresh uniform pool of
        pool·B coordinates; "periodic" all N every `errors_every` steps; "rolling" N/errors_every
        coordinates per step, in turn; "free" only the first step. The cached modes also update
        each trained coordinate's error from the training forward (free; see observe).
    rank_precision: "fp32", "bf16" or "fp16": autocast of the error-ranking forward.
    """

    name = "nint"

    def __init__(self, ratio=0.2, seed=0, schedule="constant", xi=0.7, lam=1.0, alpha=10,
                 refresh=None, ntk_share=None, variant="paper", score="ntk",
                 chunk_size=ntk.DEFAULT_CHUNK, pick="top", errors="fresh", pool=2.0, errors_every=4,
                 rank_precision="fp32"):
        super().__init__(ratio, seed, schedule)
        self.xi = _check_share("xi", xi)
        if ntk_share is not None:
            _check_share("ntk_share", ntk_share)
            if ntk_share + self.xi > 1.0 + 1e-9:
                raise ValueError(f"ntk_share + xi must be ≤ 1, got {ntk_share} + {xi}")
        if variant not in ("paper", "official"):
            raise ValueError(f"unknown variant {variant!r}; valid: 'paper', 'official'")
        if not callable(score) and score not in NINT_SCORES:
            raise ValueError(f"unknown score {score!r}; valid: {', '.join(NINT_SCORES)} "
                             "('output_norm' is the official bug) or a function (view, sampler)")
        if pick not in ("top", "sample"):
            raise ValueError(f"unknown pick {pick!r}; valid: 'top', 'sample'")
        if alpha <= 0 or (refresh is not None and refresh <= 0):
            raise ValueError("alpha and refresh must be positive")
        self.lam, self.alpha, self.refresh = lam, alpha, int(refresh or alpha)
        self.ntk_share, self.variant, self.score, self.chunk_size = ntk_share, variant, score, chunk_size
        self.pick = pick
        if errors not in ERROR_MODES:
            raise ValueError(f"unknown errors {errors!r}; valid: {', '.join(ERROR_MODES)}")
        if not pool >= 1 or int(errors_every) != errors_every or errors_every < 1:
            raise ValueError(f"pool must be ≥ 1 and errors_every a positive int, got {pool}, {errors_every}")
        if rank_precision not in RANK_DTYPES:
            raise ValueError(f"unknown rank_precision {rank_precision!r}; valid: {', '.join(RANK_DTYPES)}")
        self.errors, self.pool, self.errors_every = errors, float(pool), int(errors_every)
        self.observes = errors in ("periodic", "rolling", "free")  # train_step then calls observe
        self.rank_precision = rank_precision

    def setup(self, view):
        super().setup(view)
        self.cache, self.last_refresh, self.refreshes, self.off = None, None, 0, False
        self.err = None  # (N,) cached errors of the "periodic" / "rolling" / "free" modes

    def share(self, t: int) -> float:
        """The NTK share of the batch at step t (0 once the official variant switched it off)."""
        if self.ntk_share is not None:
            return self.ntk_share
        if self.variant == "official":
            return 0.0 if self.off else schedules.nint_share_official(t + 1)
        return schedules.nint_share(t, self.xi, self.lam, self.alpha)

    def _due(self, t):
        if self.variant == "official":
            c = t + 1
            return c == 1 or c % self.alpha == 0
        return self.last_refresh is None or t - self.last_refresh >= self.refresh

    def scores(self, view=None) -> torch.Tensor:
        """(N,) the score the NTK set is ranked by (‖(K r)_i‖ by default)."""
        fn = self.score if callable(self.score) else NINT_SCORES[self.score]
        return fn(view or self.view, self)

    def _rank(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        """k indices: the top scores, or (pick="sample") drawn ∝ score without replacement
        (Gumbel top-k on log score, with the sampler's generator), best first."""
        if self.pick == "top":
            return torch.topk(scores, k).indices
        u = torch.rand(scores.shape, generator=self.generator, device=scores.device).clamp_min(1e-20)
        keys = scores.clamp_min(1e-30).log() - torch.log(-torch.log(u))
        return torch.topk(keys, k).indices

    def select(self, t, view=None):
        view = view or self.view
        b = self.batch_size(t, view.steps)
        share = self.share(t)
        n_ntk = round(share * b)
        if self._due(t):
            if self.variant == "official" and share < 1e-3:
                self.off, n_ntk = True, 0
            # The official code scores at every due refresh until switched off, whatever B is.
            if n_ntk > 0 or (self.variant == "official" and not self.off):
                self.cache = self._rank(self.scores(view), n_ntk)  # sorted, best first
                self.last_refresh, self.refreshes = t, self.refreshes + 1
        if self.variant == "official" and not self.off and self.cache is not None:
            ntk_idx = self.cache  # reused as is until the next refresh (even if share(t)·B rounds to 0)
        elif self.off or n_ntk == 0 or self.cache is None:
            ntk_idx = torch.zeros(0, dtype=torch.long, device=view.device)
        else:
            ntk_idx = self.cache[:n_ntk]
        # min(): round(ξ·B) + round(share·B) can exceed B by one (e.g. B = 205 at t = 0).
        n_rand = min(round(self.xi * b), b - len(ntk_idx))
        n_err = max(0, b - len(ntk_idx) - n_rand)
        taken = torch.zeros(self.n, dtype=torch.bool, device=view.device).index_fill(0, ntk_idx, True)
        parts = [ntk_idx]
        if n_err:
            err_idx = torch.topk(self._errors(t, b, taken, len(ntk_idx), view).masked_fill(taken, -1.0), n_err).indices
            taken.index_fill_(0, err_idx, True)
            parts.append(err_idx)
        if n_rand:
            parts.append(self._random_excluding(n_rand, taken))
        return Selection(torch.cat(parts))

    def _norm(self, r):  # (M, C) -> (M,): the error of a residual row
        return r.abs().sum(1) if self.variant == "official" else r.norm(dim=1)

    def _errors(self, t, b, taken, n_taken, view) -> torch.Tensor:
        """(N,) errors to rank (−1: not a candidate), as `errors` says."""
        dtype = RANK_DTYPES[self.rank_precision]
        if self.errors == "fresh":
            return self._norm(view.residuals() if dtype is None else view.residuals_at(None, dtype))
        if self.errors == "pool":  # candidates: a fresh uniform pool, none of them taken
            cand = self._random_excluding(min(round(self.pool * b), self.n - n_taken), taken)
            return torch.full((self.n,), -1.0, device=view.device).index_copy_(
                0, cand, self._norm(view.residuals_at(cand, dtype)))
        k = self.errors_every
        if self.err is None or (self.errors == "periodic" and t % k == 0):
            self.err = self._norm(view.residuals_at(None, dtype))
        elif self.errors == "rolling":  # slice (t mod k) of k equal slices of 0 … N−1
            rows = torch.arange(t % k, self.n, k, device=view.device)
            self.err.index_copy_(0, rows, self._norm(view.residuals_at(rows, dtype)))
        return self.err

    def observe(self, indices: torch.Tensor, residuals: torch.Tensor) -> None:
        """Called by train_step (when self.observes) with the trained rows (B,) and their f − y
        (B, C) from the training forward: the cached error modes keep those errors for free."""
        if self.err is not None:
            self.err.index_copy_(0, indices, self._norm(residuals.float()))


ERROR_MODES = ("fresh", "pool", "periodic", "rolling", "free")
RANK_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
SAMPLERS = {s.name: s for s in (Full, Uniform, INT, NINT)}


def register(cls):
    """Make a Sampler subclass available to make_sampler under its `name` (a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Sampler)):
        raise ValueError(f"register takes a Sampler subclass, got {cls!r}")
    SAMPLERS[cls.name] = cls
    return cls


def make_sampler(name, ratio: float = 0.2, **params) -> Sampler:
    """Build a sampler by name (see SAMPLERS); params go to its constructor (seed, schedule, …).
    A Sampler instance is returned as it is, with its own parameters and seed."""
    if isinstance(name, Sampler):
        return name
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; valid names: {', '.join(SAMPLERS)}")
    cls = SAMPLERS[name]
    try:  # a wrong keyword is the caller's mistake; a TypeError inside __init__ is a bug
        inspect.signature(cls).bind(ratio=ratio, **params)
    except TypeError as e:
        raise ValueError(f"bad parameter for sampler {name!r}: {e}") from None
    return cls(ratio=ratio, **params)
