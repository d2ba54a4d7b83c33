"""Surrogates of a study: (design parameters, discrete choices) -> each objective (and each
constraint), with predictive uncertainty, fitted on every evaluated design of the study.

What is fitted on what
----------------------
* **Data.** Every COMPLETE trial with finite objectives (anchors and re-simulated designs
  included; trials traced *on* a surrogate never are): its final evaluation (objectives and
  constraints with their standard errors) and points of its inner-loop trajectory (evenly
  spaced steps, the first and last kept; at most :data:`MAX_TRAJECTORY_POINTS` per trial, and
  fewer when the study is large, see *Models*). A trajectory point holds the objective means of
  one inner-loop step; constraints are not recorded there, so only final evaluations inform
  the constraint outputs.
* **Noise.** A final evaluation carries its standard error. A trajectory point was evaluated on
  a sample of ``n_samples`` instead of ``n_eval_samples`` (the study's inner settings), so its
  noise variance is the trial's final ``stderr**2`` times ``n_eval_samples / n_samples``
  (:func:`trajectory_noise_factor`). The models add one learned noise level per output on top
  (model misfit, the soft relaxations of a simulation in training mode, and deterministic
  studies whose standard errors are zero).
* **Inputs** are normalised to ``[0, 1]`` on the space's bounds (log space for ``log=True``
  reals; integers on their range); choices are one-hot. **Outputs** are standardised, in log
  space where the Box-Cox likelihood prefers it (positive, multiplicative figures such as
  costs and resolutions; :class:`OutputScaling`).
* **Models.** An exact GP per output (:class:`_ExactGP`: botorch ``SingleTaskGP``, Matern-5/2
  with one lengthscale per column, heteroskedastic fixed-noise likelihood plus the learned
  noise) on at most :data:`EXACT_GP_MAX_POINTS` points: trajectories are thinned to
  ``(EXACT_GP_MAX_POINTS - n_trials) // n_trials`` points each. When that leaves fewer than
  :data:`MIN_GP_TRAJECTORY_POINTS` per trial (more than ~200 trials), a deep ensemble
  (:class:`_DeepEnsemble`: :data:`ENSEMBLE_MEMBERS` MLPs on a Gaussian likelihood;
  Lakshminarayanan et al. 2017, arXiv:1612.01474) takes every trial with full trajectories:
  its cost grows linearly with the data, the GP's as its cube. Choices are one-hot rather than
  botorch's ``MixedSingleTaskGP`` categorical kernel: on the calorimeter study (360 points, 3
  outputs) its sum-and-product kernel cost 7x more per likelihood evaluation (fit 106 s
  against 18 s), and one lengthscale per option lets the fit learn how alike two materials are.
* **Validation.** A seeded :data:`HOLDOUT_FRACTION` of the trials (all their points) is held
  out, a model is fitted on the rest and scored on them: R2 and RMSE per output and the
  empirical coverage of the central 68 % and 95 % predictive intervals (predictive = the
  model's uncertainty plus the point's noise). Trials holding the smallest or largest final
  value of an output or of a continuous parameter are never held out, nor the last trial of a
  combination of choices: the score is of interpolation between evaluated designs, the
  surrogate's use; beyond them is extrapolation. The GP's variances are first calibrated on
  the training trials themselves (closed-form leave-one-trial-out, widened only). The stored
  model is then fitted on every trial (starting from the validation fit's hyperparameters);
  the table describes how that procedure generalises to unseen trials.

Storage
-------
A model is stored in the study database (table ``surrogate_models``) as a safetensors blob:
tensors only (training data where the model needs it, the state dict) plus a JSON header
checked against a strict schema, with an HMAC-SHA256 digest beside it. Nothing is unpickled;
a blob whose digest does not match, that is not safetensors, or whose header or tensors do not
match the study is refused (:class:`~paretoopt.exceptions.UntrustedModelError`). Set
``PARETOOPT_SURROGATE_KEY`` on every machine that writes or reads models to make the digest a
secret-keyed signature; without it the key is public and the digest detects corruption and
edits by anyone who does not also recompute it. Each model records the trial numbers it was
fitted on; ``Study.surrogate(refit="auto")`` refits when the study has grown.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from paretoopt.exceptions import SpaceError, SurrogateError, UntrustedModelError
from paretoopt.problem import Constraint, Objective
from paretoopt.report.columns import strip_unit
from paretoopt.space import Choice, DesignSpace, Integer, Real, space_to_list

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from paretoopt.outer import Engine
    from paretoopt.problem import InnerSettings, StudyDefinition
    from paretoopt.scalarize import Normalization
    from paretoopt.storage import BaseStorage, FrozenTrial
    from paretoopt.study import Study

log = logging.getLogger("paretoopt")

#: At most this many points of one trial's inner-loop trajectory enter the training data.
MAX_TRAJECTORY_POINTS = 16
#: The exact GP's training points at most (its fit time grows as n^3): trajectories are
#: thinned to stay below.
EXACT_GP_MAX_POINTS = 600
#: Fewer trajectory points per trial than this under the GP's budget: the deep ensemble instead.
MIN_GP_TRAJECTORY_POINTS = 2
#: Integers with low >= 1 and high >= this * low are counts, encoded in log space.
COUNT_LOG_RATIO = 4
#: Fewest completed trials a surrogate is fitted on (one or more of them held out).
MIN_TRIALS = 5
#: Fraction of the trials held out for validation (at least one trial).
HOLDOUT_FRACTION = 0.2
#: Deep ensemble: members, hidden width, optimiser steps, minibatch size.
ENSEMBLE_MEMBERS = 5
ENSEMBLE_HIDDEN = 64
ENSEMBLE_STEPS = 1500
ENSEMBLE_BATCH = 256
#: Most L-BFGS-B iterations of a GP fit (hyperparameters; a cap on the fit time).
GP_FIT_MAXITER = 300
#: Largest factor the leave-one-trial-out calibration may put on the GP's variances.
VAR_SCALE_MAX = 100.0
#: Learned noise floor of the GP (variance in standardised units).
GP_NOISE_FLOOR = 1e-6
#: Noise variance (standardised units) that makes a missing output (a constraint at a
#: trajectory point) irrelevant to the exact GP.
_MISSING_NOISE = 1e4

FORMAT = "paretoopt-surrogate"
FORMAT_VERSION = 1
KINDS = ("exact_gp", "deep_ensemble")
_KEY_ENV = "PARETOOPT_SURROGATE_KEY"
_PUBLIC_KEY = b"paretoopt-surrogate-v1"
_DIGEST_PREFIX = "hmac-sha256:"

Kind = Literal["auto", "exact_gp", "deep_ensemble"]


# ----------------------------------------------------------------------------- encoding
class DesignEncoder:
    """Maps designs (parameters and choices by name) to the model's input columns.

    Column order: every non-choice parameter in space order, normalised to ``[0, 1]`` on its
    bounds, then every choice as its option index (:meth:`one_hot` expands them). Log space
    for ``log=True`` reals and for counts: integers with ``low >= 1`` spanning at least a
    factor :data:`COUNT_LOG_RATIO` (a number of layers: cost, depth and sampling scale with it
    multiplicatively; on the calorimeter this halved the cost RMSE of held-out trials and
    brought its 95 % coverage from 0.81 to 1.0).
    """

    def __init__(self, space: DesignSpace) -> None:
        self.space = space
        self.continuous: list[Real | Integer] = [p for p in space if not isinstance(p, Choice)]
        self.categorical: list[Choice] = [p for p in space if isinstance(p, Choice)]
        lows, spans, logs = [], [], []
        for p in self.continuous:
            use_log = (isinstance(p, Real) and p.log) or (
                isinstance(p, Integer) and p.low >= 1 and p.high >= COUNT_LOG_RATIO * p.low
            )
            lo, hi = (math.log(p.low), math.log(p.high)) if use_log else (float(p.low), float(p.high))
            lows.append(lo)
            spans.append(hi - lo)
            logs.append(use_log)
        self.low = np.asarray(lows, dtype=float)
        self.span = np.asarray(spans, dtype=float)
        self.log = np.asarray(logs, dtype=bool)
        self._option_index = [{repr(o): i for i, o in enumerate(p.options)} for p in self.categorical]

    @property
    def n_continuous(self) -> int:
        return len(self.continuous)

    @property
    def dim(self) -> int:
        return len(self.continuous) + len(self.categorical)

    @property
    def cat_dims(self) -> list[int]:
        return list(range(self.n_continuous, self.dim))

    @property
    def n_one_hot(self) -> int:
        return self.n_continuous + sum(len(p.options) for p in self.categorical)

    def _scale(self, values: np.ndarray, j: int, name: str) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(v)):
            raise SpaceError(f"design column {name!r} has non-finite values")
        if self.log[j]:
            if np.any(v <= 0):
                raise SpaceError(f"design column {name!r} is a log-scaled parameter and needs values > 0")
            v = np.log(v)
        return (v - self.low[j]) / self.span[j]

    def _index(self, values: Sequence[Any], k: int) -> np.ndarray:
        p = self.categorical[k]
        lookup = self._option_index[k]
        out = np.empty(len(values), dtype=float)
        for i, v in enumerate(values):
            if isinstance(v, np.generic):
                v = v.item()
            idx = lookup.get(repr(v))
            if idx is None:
                try:
                    idx = p.index(v)
                except SpaceError:
                    raise SpaceError(
                        f"design column {p.name!r}: {v!r} is not one of the options {list(p.options)!r}"
                    ) from None
            out[i] = idx
        return out

    def encode_columns(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """``n x dim`` inputs from one sequence of values per parameter name."""
        n = len(next(iter(columns.values()))) if columns else 0
        x = np.empty((n, self.dim), dtype=float)
        for j, p in enumerate(self.continuous):
            x[:, j] = self._scale(np.asarray(columns[p.name], dtype=float), j, p.name)
        for k, p in enumerate(self.categorical):
            x[:, self.n_continuous + k] = self._index(list(columns[p.name]), k)
        return x

    def encode_design(self, params: Mapping[str, float], choices: Mapping[str, Any]) -> np.ndarray:
        """One ``dim``-vector from a trial's inner parameters and outer choices."""
        values = {**choices, **params}
        return self.encode_columns({p.name: [values[p.name]] for p in self.space})[0]

    def encode_torch(
        self, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any], dtype: torch.dtype
    ) -> torch.Tensor:
        """A ``1 x dim`` tensor, differentiable in the inner (tensor) parameters."""
        cols: list[torch.Tensor] = []
        for j, p in enumerate(self.continuous):
            v = params[p.name] if p.name in params else choices[p.name]
            t = v.to(dtype) if isinstance(v, torch.Tensor) else torch.tensor(float(v), dtype=dtype)
            if self.log[j]:
                t = torch.log(t)
            cols.append((t.reshape(()) - self.low[j]) / self.span[j])
        for k, p in enumerate(self.categorical):
            cols.append(torch.tensor(float(self._index([choices[p.name]], k)[0]), dtype=dtype))
        return torch.stack(cols).unsqueeze(0)

    def frame_columns(self, designs: pd.DataFrame) -> dict[str, Sequence[Any]]:
        """The columns of ``designs`` that name the space's parameters, by parameter name.

        A column matches by its exact name or by its header without the unit
        (``"absorber_mm [mm]"``); other columns are ignored. Raises :class:`SpaceError`
        naming every missing parameter."""
        by_name: dict[str, Any] = {}
        for c in designs.columns:
            s = str(c)
            if s in self.space:
                by_name[s] = c
        for c in designs.columns:
            s = strip_unit(str(c))
            if s in self.space and s not in by_name:
                by_name[s] = c
        missing = [p.name for p in self.space if p.name not in by_name]
        if missing:
            raise SpaceError(
                f"designs lack a column for {missing}; give one column per parameter and choice "
                f"({self.space.names}), named as in the space or with its unit, e.g. "
                f"'{self.space.params[0].name} [unit]'"
            )
        return {name: designs[col].tolist() for name, col in by_name.items()}

    def one_hot(self, x: torch.Tensor) -> torch.Tensor:
        """``n x dim`` encoded inputs -> ``n x n_one_hot`` (choices one-hot) for the ensemble."""
        parts = [x[:, : self.n_continuous]]
        for k, p in enumerate(self.categorical):
            idx = x[:, self.n_continuous + k].round().long().clamp(0, len(p.options) - 1)
            parts.append(torch.nn.functional.one_hot(idx, len(p.options)).to(x.dtype))
        return torch.cat(parts, dim=1)


# ----------------------------------------------------------------------------- data
@dataclass
class TrainingData:
    """The points a surrogate is fitted on.

    ``x``: ``n x dim`` encoded inputs; ``y``: ``n x k`` outputs (objectives then constraints,
    natural units; NaN where an output was not recorded); ``yvar``: their noise variances
    (natural units squared; NaN where missing); ``trial``: the trial number of each point;
    ``final``: True for a final evaluation, False for a trajectory point.
    """

    x: np.ndarray
    y: np.ndarray
    yvar: np.ndarray
    trial: np.ndarray
    final: np.ndarray

    def subset(self, mask: np.ndarray) -> TrainingData:
        return TrainingData(self.x[mask], self.y[mask], self.yvar[mask], self.trial[mask], self.final[mask])

    def __len__(self) -> int:
        return int(self.x.shape[0])


def trajectory_noise_factor(settings: Mapping[str, Any]) -> float:
    """How much larger a trajectory point's noise variance is than the final evaluation's:
    ``n_eval_samples / n_samples`` of the study's inner settings (Monte Carlo variance scales
    as 1/n), at least 1."""
    try:
        n_eval = float(settings.get("n_eval_samples", 1))
        n_step = float(settings.get("n_samples", 1))
    except (TypeError, ValueError):
        return 1.0
    if not (n_eval > 0 and n_step > 0):
        return 1.0
    return max(1.0, n_eval / n_step)


def _subsample_steps(n: int, cap: int) -> list[int]:
    """``cap`` evenly spaced indices of ``range(n)``, the first and last included."""
    if n <= cap:
        return list(range(n))
    return sorted({round(float(i)) for i in np.linspace(0, n - 1, cap)})


def eligible_trials(study: Study) -> list[FrozenTrial]:
    """The trials a surrogate of ``study`` is fitted on: COMPLETE, finite objectives, not
    themselves traced on a surrogate."""
    from paretoopt.trials import SURROGATE

    return [t for t in study.completed_trials if t.source != SURROGATE]


def collect_training_data(
    study: Study,
    trials: Sequence[FrozenTrial] | None = None,
    *,
    max_trajectory_points: int = MAX_TRAJECTORY_POINTS,
) -> TrainingData:
    """Final evaluations and (subsampled) trajectory points of ``trials`` (default: every
    eligible trial of ``study``), encoded for the model."""
    trials = list(trials) if trials is not None else eligible_trials(study)
    enc = DesignEncoder(study.space)
    m, c = len(study.objectives), len(study.constraints)
    factor = trajectory_noise_factor(study.record.settings)
    xs, ys, vs, nums, finals = [], [], [], [], []
    for t in trials:
        assert t.objectives is not None
        se = np.asarray(t.stderr if t.stderr is not None else [0.0] * m, dtype=float)
        se = np.where(np.isfinite(se), se, 0.0)
        y = np.full(m + c, np.nan)
        v = np.full(m + c, np.nan)
        y[:m] = t.objectives
        v[:m] = se**2
        if c and t.constraints is not None:
            cse = np.asarray(t.constraint_stderr or [0.0] * c, dtype=float)
            y[m:] = t.constraints
            v[m:] = np.where(np.isfinite(cse), cse, 0.0) ** 2
        xs.append(enc.encode_design(t.params, t.choices))
        ys.append(y)
        vs.append(v)
        nums.append(t.number)
        finals.append(True)
        if max_trajectory_points > 0 and t.n_steps > 0:
            steps = study.storage.get_trajectory(t.id)
            for i in _subsample_steps(len(steps), max_trajectory_points):
                s = steps[i]
                if len(s.objectives) != m or not all(math.isfinite(o) for o in s.objectives):
                    continue
                params = {**t.params, **s.params}
                y = np.full(m + c, np.nan)
                v = np.full(m + c, np.nan)
                y[:m] = s.objectives
                v[:m] = se**2 * factor
                xs.append(enc.encode_design(params, t.choices))
                ys.append(y)
                vs.append(v)
                nums.append(t.number)
                finals.append(False)
    k = m + c
    return TrainingData(
        x=np.asarray(xs, dtype=float).reshape(-1, enc.dim),
        y=np.asarray(ys, dtype=float).reshape(-1, k),
        yvar=np.asarray(vs, dtype=float).reshape(-1, k),
        trial=np.asarray(nums, dtype=int),
        final=np.asarray(finals, dtype=bool),
    )


# ----------------------------------------------------------------------------- models
class _Model:
    """A fitted backend on standardised outputs. ``predict`` takes encoded ``n x dim`` inputs
    and returns the latent mean and variance and the learned extra noise variance, ``n x k``."""

    kind: str

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError


class _ExactGP(_Model):
    """Independent exact GPs, one per output (one batched botorch ``SingleTaskGP``), on the
    encoded inputs with every choice one-hot: a Matern-5/2 kernel with one lengthscale per
    column (botorch's dimension-scaled lengthscale prior, Hvarfner et al. 2024, ICML), so the
    fit learns how much each parameter and each option matters. Likelihood: the points' known
    noise (fixed, heteroskedastic) plus one learned noise level per output."""

    kind = "exact_gp"

    def __init__(
        self,
        encoder: DesignEncoder,
        x: torch.Tensor,
        y: torch.Tensor,
        noise: torch.Tensor,
        state: Mapping[str, torch.Tensor] | None = None,
        *,
        seed: int = 0,
        init: Mapping[str, torch.Tensor] | None = None,
        groups: np.ndarray | None = None,
        var_scale: torch.Tensor | None = None,
    ) -> None:
        import gpytorch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
        from gpytorch.constraints import GreaterThan
        from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

        self.encoder = encoder
        self.x, self.y, self.noise = x, y, noise  # n x dim (encoded), n x k, n x k (standardised)
        self.xo = encoder.one_hot(x)
        k = y.shape[1]
        batch = torch.Size([k])
        likelihood = FixedNoiseGaussianLikelihood(
            noise=noise.T.clamp_min(GP_NOISE_FLOOR).contiguous(),
            learn_additional_noise=True,
            batch_shape=batch,
            noise_constraint=GreaterThan(GP_NOISE_FLOOR),
        )
        covar = get_covar_module_with_dim_scaled_prior(
            ard_num_dims=self.xo.shape[1], batch_shape=batch, use_rbf_kernel=False
        )
        model = SingleTaskGP(self.xo, y, likelihood=likelihood, covar_module=covar, outcome_transform=None)
        model = model.to(torch.float64)
        if state is None:
            if init is not None:  # start from another fit's hyperparameters (fewer iterations)
                model.load_state_dict(dict(init), strict=True)
            mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                try:
                    fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": GP_FIT_MAXITER}})
                except Exception as exc:  # botorch raises ModelFittingError and numerical errors
                    raise SurrogateError(f"the GP fit failed: {type(exc).__name__}: {exc}") from exc
        else:
            try:
                model.load_state_dict(dict(state), strict=True)
            except (RuntimeError, KeyError) as exc:
                raise UntrustedModelError(f"stored GP state does not fit the model: {exc}") from exc
        model.eval()
        self.model = model
        self._factorize()
        if var_scale is not None:
            self.var_scale = var_scale.reshape(k)
        elif groups is not None:
            self.var_scale = self._leave_one_trial_out_scale(groups)
        else:
            self.var_scale = torch.ones(k, dtype=torch.float64)

    def _leave_one_trial_out_scale(self, groups: np.ndarray) -> torch.Tensor:
        """Per output, the factor on the predictive variances that calibrates the intervals on
        the training trials themselves, each predicted from the others (closed-form
        leave-one-group-out of an exact GP: residuals ``C^-1 alpha_B``, covariance ``C^-1``,
        ``C = [A^-1]_BB``; Rasmussen & Williams 2006, eq. 5.12, by blocks): large enough that
        the mean squared pull is at most 1 and 95 % of the points lie within the 95 % interval,
        never below 1 (the hyperparameters saw every trial, so these pulls are optimistic), at
        most :data:`VAR_SCALE_MAX`. A GP fitted by maximum likelihood to smooth deterministic
        data is often overconfident between trials; this widens its intervals where it was."""
        with torch.no_grad():
            k = self.y.shape[1]
            a_inv = torch.cholesky_inverse(self._chol)  # k x n x n
            alpha = self._alpha.squeeze(-1)  # k x n
            observed = (self.noise.T < _MISSING_NOISE / 2).numpy()  # k x n
            pulls = np.zeros((k, self.y.shape[0]))
            for g in np.unique(groups):
                idx = torch.as_tensor(np.flatnonzero(groups == g))
                c_inv = torch.linalg.inv(a_inv[:, idx][:, :, idx])  # k x b x b
                resid = (c_inv @ alpha[:, idx].unsqueeze(-1)).squeeze(-1)
                var = torch.diagonal(c_inv, dim1=-2, dim2=-1).clamp_min(1e-300)
                pulls[:, idx.numpy()] = (resid / var.sqrt()).numpy()
            scale = np.ones(k)
            z95 = _z(0.95)
            for j in range(k):
                p = np.abs(pulls[j, observed[j]])
                if p.size:
                    scale[j] = max(1.0, float(np.mean(p**2)), (float(np.quantile(p, 0.95)) / z95) ** 2)
            return torch.as_tensor(np.minimum(scale, VAR_SCALE_MAX), dtype=torch.float64)

    def _factorize(self) -> None:
        """Cholesky factor of the noisy training covariance and the weights of the predictive
        mean, once: a prediction is then one kernel row and one triangular solve per output
        (sub-millisecond for a design; gpytorch's own path re-solves on every call)."""
        model = self.model
        with torch.no_grad():
            k, n = self.y.shape[1], self.xo.shape[0]
            cov = model.covar_module(self.xo).to_dense().expand(k, n, n)
            noise = model.likelihood.noise.reshape(k, n)
            a = cov + torch.diag_embed(noise)
            jitter = 0.0
            for _ in range(6):
                chol, info = torch.linalg.cholesky_ex(a + jitter * torch.eye(n, dtype=a.dtype))
                if not torch.any(info):
                    break
                jitter = max(jitter * 10.0, 1e-9)
            else:
                raise SurrogateError("the GP's training covariance is not positive definite")
            prior = model.mean_module(self.xo).expand(k, n)
            self._chol = chol
            self._alpha = torch.cholesky_solve((self.y.T - prior).unsqueeze(-1), chol)  # k x n x 1
            self._extra = model.likelihood.second_noise.detach().reshape(1, k)

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        model = self.model
        x = self.encoder.one_hot(x)
        k, q = self.y.shape[1], x.shape[0]
        cross = model.covar_module(x, self.xo).to_dense().expand(k, q, self.xo.shape[0])  # k x q x n
        prior_mean = model.mean_module(x).expand(k, q)
        mean = prior_mean + (cross @ self._alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(self._chol, cross.transpose(-1, -2), upper=False)  # k x n x q
        prior_var = model.covar_module(x, diag=True).expand(k, q)
        var = (prior_var - (v**2).sum(-2)).clamp_min(0.0) * self.var_scale.unsqueeze(-1)
        return mean.T, var.T, (self._extra * self.var_scale).expand(q, k)

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"train_x": self.x, "train_y": self.y, "train_noise": self.noise, "var_scale": self.var_scale}
        for key, value in self.model.state_dict().items():
            out["state." + key] = value
        return out

    def config(self) -> dict[str, Any]:
        return {"inputs": "one-hot"}


class _EnsembleNet(torch.nn.Module):
    """``members`` MLPs (two hidden SiLU layers) evaluated as one batched network: weights
    ``members x fan_in x fan_out``. Each member outputs a mean and a noise variance per output."""

    def __init__(self, members: int, d_in: int, hidden: int, k: int) -> None:
        super().__init__()
        self.k = k
        sizes = [(d_in, hidden), (hidden, hidden), (hidden, 2 * k)]
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.empty(members, a, b, dtype=torch.float64)) for a, b in sizes]
        )
        self.biases = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.empty(members, 1, b, dtype=torch.float64)) for _, b in sizes]
        )

    def reset(self, generator: torch.Generator) -> None:
        """Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and biases (``nn.Linear``'s bound)."""
        with torch.no_grad():
            for w, b in zip(self.weights, self.biases, strict=True):
                bound = 1.0 / math.sqrt(w.shape[1])
                w.copy_((torch.rand(w.shape, generator=generator, dtype=w.dtype) * 2 - 1) * bound)
                b.copy_((torch.rand(b.shape, generator=generator, dtype=b.dtype) * 2 - 1) * bound)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: ``members x n x d_in`` -> mean and variance, ``members x n x k`` each."""
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.nn.functional.silu(h)
        mean, raw = h[..., : self.k], h[..., self.k :]
        return mean, torch.nn.functional.softplus(raw) + 1e-6


class _DeepEnsemble(_Model):
    """A deep ensemble (Lakshminarayanan et al. 2017): ``members`` MLPs from different random
    initialisations and minibatch orders, each trained on the Gaussian negative log-likelihood
    with its predicted noise plus the points' known noise. Latent variance: the spread of the
    members' means; extra noise: their mean predicted noise. Choices enter one-hot."""

    kind = "deep_ensemble"

    def __init__(
        self,
        encoder: DesignEncoder,
        k: int,
        members: int = ENSEMBLE_MEMBERS,
        hidden: int = ENSEMBLE_HIDDEN,
        state: Mapping[str, torch.Tensor] | None = None,
        *,
        data: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        steps: int | None = None,
        seed: int = 0,
    ) -> None:
        steps = int(steps if steps is not None else ENSEMBLE_STEPS)
        self.encoder = encoder
        self.k, self.members, self.hidden = k, members, hidden
        self.net = _EnsembleNet(members, encoder.n_one_hot, hidden, k)
        if state is not None:
            try:
                self.net.load_state_dict(dict(state), strict=True)
            except (RuntimeError, KeyError) as exc:
                raise UntrustedModelError(f"stored ensemble state does not fit the model: {exc}") from exc
        else:
            assert data is not None
            self._train(*data, steps=steps, seed=seed)
        self.net.eval()

    def _train(self, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor, *, steps: int, seed: int) -> None:
        xo = self.encoder.one_hot(x)
        observed = torch.isfinite(y)
        y0 = torch.where(observed, y, torch.zeros_like(y))
        known = torch.where(observed, noise, torch.zeros_like(noise))
        weight = observed.to(y.dtype)
        n = xo.shape[0]
        batch = min(ENSEMBLE_BATCH, n)
        gen = torch.Generator().manual_seed(int(seed))
        self.net.reset(gen)
        opt = torch.optim.Adam(self.net.parameters(), lr=3e-3, weight_decay=1e-5)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=1e-4)
        self.net.train()
        for _ in range(steps):
            idx = torch.randint(0, n, (self.members, batch), generator=gen)  # own minibatch per member
            mean, var = self.net(xo[idx])
            total = var + known[idx]
            nll = 0.5 * (torch.log(total) + (y0[idx] - mean) ** 2 / total) * weight[idx]
            loss = nll.sum() / weight[idx].sum().clamp_min(1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xo = self.encoder.one_hot(x)
        means, noises = self.net(xo.unsqueeze(0).expand(self.members, *xo.shape))
        return means.mean(0), means.var(0, unbiased=False), noises.mean(0)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"ensemble." + key: value for key, value in self.net.state_dict().items()}

    def config(self) -> dict[str, Any]:
        return {"members": self.members, "hidden": self.hidden}


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Fit on one torch thread: the matrices are small (at most a few thousand rows), and on a
    busy machine torch's thread pool made a 200-point GP fit 8x slower (34 s instead of 4 s)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class OutputScaling:
    """How model outputs map to natural units, per output: ``log`` (modelled in log space),
    ``mean`` and ``std`` of the (log) values over the training points.

    An output is modelled in log space when every observed value is positive and the Box-Cox
    profile likelihood (Box & Cox 1964, J. R. Stat. Soc. B 26:211) prefers ``lambda = 0`` (log)
    to ``lambda = 1`` (linear): right-skewed, multiplicative figures such as costs and
    resolutions, which vary by factors with materials and layer counts and whose Monte Carlo
    noise is roughly relative. ZDT's objectives (reaching zero, or spread evenly) stay linear.
    In log space the prediction in natural units is the median ``exp(mu)`` with standard
    deviation ``exp(mu) * sigma`` (delta method), and intervals are computed in log space.
    """

    log: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, y: np.ndarray) -> OutputScaling:
        from scipy.stats import boxcox_llf

        observed = np.isfinite(y)
        k = y.shape[1]
        log = np.zeros(k, dtype=bool)
        mu, sd = np.zeros(k), np.ones(k)
        for j in range(k):
            col = y[observed[:, j], j]
            if col.size == 0:
                raise SurrogateError(f"output {j} has no observed values to fit")
            if (
                col.min() > 0
                and col.size > 2
                and col.std() > 0
                and boxcox_llf(0.0, col) > boxcox_llf(1.0, col)
            ):
                log[j] = True
                col = np.log(col)
            mu[j] = col.mean()
            s = col.std()
            sd[j] = s if s > 1e-12 * max(1.0, abs(mu[j])) else 1.0
        return cls(log, mu, sd)

    def transformed(self, y: np.ndarray, yvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Natural-unit values and noise variances -> model space (log where chosen), not
        standardised. Non-positive values of a log output become NaN (missing)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ly = np.where(y > 0, np.log(np.where(y > 0, y, 1.0)), np.nan)
            lv = yvar / np.where(y > 0, y, np.nan) ** 2
        return np.where(self.log, ly, y), np.where(self.log, lv, yvar)

    def standardised(self, y: np.ndarray, yvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ty, tv = self.transformed(y, yvar)
        return (ty - self.mean) / self.std, tv / self.std**2

    def to_natural(self, mean: torch.Tensor, var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised model mean and variance -> natural-unit mean (median for log outputs)
        and standard deviation; differentiable."""
        mu = torch.as_tensor(self.mean, dtype=mean.dtype)
        sd = torch.as_tensor(self.std, dtype=mean.dtype)
        log = torch.as_tensor(self.log)
        z = mean * sd + mu
        s = var.clamp_min(0.0).sqrt() * sd
        natural = torch.where(log, torch.exp(torch.where(log, z, torch.zeros_like(z))), z)
        return natural, torch.where(log, natural * s, s)


def _fit_model(
    kind: str, encoder: DesignEncoder, data: TrainingData, seed: int, init: _Model | None = None
) -> tuple[_Model, OutputScaling]:
    """Scale ``data``'s outputs (:class:`OutputScaling`) and fit a backend (a GP starting from
    ``init``'s hyperparameters when given)."""
    scaling = OutputScaling.fit(data.y)
    ys, vs = scaling.standardised(data.y, data.yvar)
    observed = np.isfinite(ys)
    k = ys.shape[1]
    x_t = torch.as_tensor(data.x, dtype=torch.float64)
    if kind == "exact_gp":
        y_t = torch.as_tensor(np.where(observed, ys, 0.0), dtype=torch.float64)
        v_t = torch.as_tensor(
            np.where(observed, np.nan_to_num(vs, nan=0.0), _MISSING_NOISE), dtype=torch.float64
        )
        start = init.model.state_dict() if isinstance(init, _ExactGP) else None
        model: _Model = _ExactGP(
            encoder, x_t, y_t, v_t.clamp_min(0.0), seed=seed, init=start, groups=data.trial
        )
    else:
        y_t = torch.as_tensor(np.where(observed, ys, np.nan), dtype=torch.float64)
        v_t = torch.as_tensor(np.nan_to_num(vs, nan=0.0), dtype=torch.float64)
        model = _DeepEnsemble(encoder, k, data=(x_t, y_t, v_t), seed=seed)
    return model, scaling


# ----------------------------------------------------------------------------- validation
def _z(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + p / 2.0))


def validation_metrics(
    y: np.ndarray,
    mean: np.ndarray,
    y_model: np.ndarray,
    mean_model: np.ndarray,
    sd_model: np.ndarray,
    names: Sequence[str],
) -> list[dict[str, Any]]:
    """Per output (column): R2 and RMSE of the natural-unit prediction ``mean`` against ``y``,
    the empirical coverage of the central 68 % and 95 % intervals ``mean_model +- z sd_model``
    of the observations ``y_model`` in model space (log space for log outputs, where the
    intervals are symmetric), and the number of observed points. ``sd_model`` is the
    predictive standard deviation of an observation (model uncertainty plus noise)."""
    rows = []
    z68, z95 = _z(0.68), _z(0.95)
    for j, name in enumerate(names):
        ok = np.isfinite(y[:, j]) & np.isfinite(y_model[:, j])
        n = int(ok.sum())
        if n == 0:
            rows.append(
                {"output": name, "r2": None, "rmse": None, "coverage_68": None, "coverage_95": None, "n": 0}
            )
            continue
        yt, resid = y[ok, j], y[ok, j] - mean[ok, j]
        pull = np.abs(y_model[ok, j] - mean_model[ok, j])
        st = sd_model[ok, j]
        sst = float(((yt - yt.mean()) ** 2).sum())
        r2 = 1.0 - float((resid**2).sum()) / sst if sst > 0 else None
        rows.append(
            {
                "output": name,
                "r2": r2,
                "rmse": float(np.sqrt((resid**2).mean())),
                "coverage_68": float((pull <= z68 * st).mean()),
                "coverage_95": float((pull <= z95 * st).mean()),
                "n": n,
            }
        )
    return rows


def extreme_trials(data: TrainingData, n_continuous: int) -> set[int]:
    """Trials whose final evaluation holds the smallest or largest value of some output or of
    some continuous design parameter (the first ``n_continuous`` input columns)."""
    keep: set[int] = set()
    finals = data.subset(data.final)
    columns = [finals.y[:, j] for j in range(finals.y.shape[1])]
    columns += [finals.x[:, j] for j in range(n_continuous)]
    for col in columns:
        ok = np.isfinite(col)
        if ok.any() and np.ptp(col[ok]) > 0:
            keep.add(int(finals.trial[ok][np.argmin(col[ok])]))
            keep.add(int(finals.trial[ok][np.argmax(col[ok])]))
    return keep


def split_trials(
    numbers: Sequence[int],
    seed: int,
    fraction: float = HOLDOUT_FRACTION,
    keep: Sequence[int] = (),
    groups: Mapping[int, Any] | None = None,
) -> tuple[list[int], list[int]]:
    """Seeded split of trial numbers into (train, held out): ``round(fraction * n)`` trials
    (at least one, at most ``n - 1``) drawn among those not in ``keep``, such that every
    held-out trial's group (its discrete choices) still has a trial in training."""
    nums = sorted(int(n) for n in numbers)
    kept = set(keep)
    candidates = [n for n in nums if n not in kept]
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5E1EC7])
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    n_test = min(max(1, round(fraction * len(nums))), len(nums) - 1)
    left: dict[Any, int] = {}
    for n in nums:
        g = groups.get(n) if groups else None
        left[g] = left.get(g, 0) + 1
    test: list[int] = []
    for n in order:
        if len(test) == n_test:
            break
        g = groups.get(n) if groups else None
        if left[g] > 1:
            left[g] -= 1
            test.append(n)
    if not test:  # nothing qualifies (tiny study): hold out one trial anyway
        test = [order[0] if order else nums[int(rng.integers(len(nums)))]]
    train = sorted(set(nums) - set(test))
    return train, sorted(test)


# ----------------------------------------------------------------------------- the surrogate
class Surrogate:
    """A fitted surrogate of a study: (parameters, choices) -> objectives (and constraints).

    Get one with ``Study.surrogate()``. :meth:`predict` takes a pandas frame of designs and
    returns means and standard deviations in natural units, one column per objective in the
    study's order. ``validation`` holds the held-out scores (see the module docstring);
    ``trial_numbers`` the trials it was fitted on; ``version`` its number in the database.
    """

    def __init__(
        self,
        *,
        space: DesignSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint],
        model: _Model,
        scaling: OutputScaling,
        info: dict[str, Any],
    ) -> None:
        self.space = space
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.encoder = DesignEncoder(space)
        self._model = model
        self.scaling = scaling
        self.info = info
        self.version: int | None = None

    def __repr__(self) -> str:
        return (
            f"Surrogate({self.kind}, outputs={self.output_names}, trials={len(self.trial_numbers)}, "
            f"points={self.n_points}, version={self.version})"
        )

    # ----- description -----
    @property
    def kind(self) -> str:
        return self._model.kind

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.objectives] + [c.name for c in self.constraints]

    @property
    def trial_numbers(self) -> list[int]:
        return list(self.info["trial_numbers"])

    @property
    def n_points(self) -> int:
        return int(self.info["n_points"])

    @property
    def validation(self) -> dict[str, Any]:
        return self.info["validation"]

    def validation_table(self) -> pd.DataFrame:
        """One row per objective and constraint: held-out R2, RMSE (its unit in the header's
        row), empirical coverage of the central 68 % and 95 % intervals, points scored."""
        import pandas as pd

        units = {o.name: o.unit for o in self.objectives} | {c.name: c.unit for c in self.constraints}
        kinds = {o.name: "objective" for o in self.objectives} | {
            c.name: "constraint" for c in self.constraints
        }
        rows = []
        for r in self.validation["metrics"]:
            rows.append(
                {
                    "output": r["output"],
                    "kind": kinds.get(r["output"], ""),
                    "unit": units.get(r["output"]) or "",
                    "R2": r["r2"],
                    "RMSE": r["rmse"],
                    "coverage 68 %": r["coverage_68"],
                    "coverage 95 %": r["coverage_95"],
                    "points": r["n"],
                }
            )
        return pd.DataFrame(
            rows, columns=["output", "kind", "unit", "R2", "RMSE", "coverage 68 %", "coverage 95 %", "points"]
        )

    def summary(self) -> str:
        """Model, data and validation split in a few lines (what the CLI prints)."""
        v = self.validation
        return (
            f"model       {self.kind} ({self.n_points} points from {len(self.trial_numbers)} trials; "
            f"at most {self.info['max_trajectory_points']} trajectory points per trial)\n"
            f"validation  {len(v['test_trials'])} held-out trials {v['test_trials']} "
            f"(seed {self.info['seed']}), model fitted on the other {len(v['train_trials'])}\n"
            f"fitted      {self.info['fitted_at']} in {self.info['fit_time_s']:.1f} s"
            + (f", version {self.version}" if self.version is not None else "")
        )

    # ----- prediction -----
    def _predict_encoded(self, x: torch.Tensor, observation_noise: bool) -> tuple[torch.Tensor, torch.Tensor]:
        mean, var, extra = self._model.predict(x)
        if observation_noise:
            var = var + extra
        return self.scaling.to_natural(mean, var)

    def predict_outputs(
        self, designs: pd.DataFrame | Mapping[str, Any], *, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Means and standard deviations (natural units) of every output, objectives then
        constraints: two ``n x (m + c)`` arrays."""
        import pandas as pd

        if isinstance(designs, Mapping):
            designs = pd.DataFrame([dict(designs)])
        if not isinstance(designs, pd.DataFrame):
            raise SpaceError(f"designs must be a pandas DataFrame, got {type(designs).__name__}")
        if len(designs) == 0:
            k = len(self.output_names)
            return np.zeros((0, k)), np.zeros((0, k))
        x = torch.as_tensor(
            self.encoder.encode_columns(self.encoder.frame_columns(designs)), dtype=torch.float64
        )
        with torch.no_grad():
            mean, std = self._predict_encoded(x, observation_noise)
        return mean.numpy(), std.numpy()

    def predict(
        self, designs: pd.DataFrame | Mapping[str, Any], *, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict the objectives of ``designs``.

        Args:
            designs: one row per design, one column per parameter and choice named as in the
                space (``"absorber_mm"``) or with its unit (``"absorber_mm [mm]"``); choices as
                option values (``"Pb"``). Other columns (the rest of ``trials_dataframe()``)
                are ignored. A dict is taken as one design.
            observation_noise: add the learned noise of one evaluation (the spread a fresh
                final evaluation would show); default: the uncertainty of the mean objective.

        Returns:
            ``(mean, std)``: two ``n x m`` arrays in natural units, objectives in the study's order.

        Raises:
            SpaceError: a parameter's column is missing (all missing ones are named), a
                choice value is not an option, or a value is not finite.
        """
        mean, std = self.predict_outputs(designs, observation_noise=observation_noise)
        m = len(self.objectives)
        return mean[:, :m], std[:, :m]

    def predict_constraints(
        self, designs: pd.DataFrame | Mapping[str, Any], *, observation_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`predict`, for the constraints (``n x c``)."""
        mean, std = self.predict_outputs(designs, observation_noise=observation_noise)
        m = len(self.objectives)
        return mean[:, m:], std[:, m:]

    def torch_predict(
        self, params: Mapping[str, torch.Tensor], choices: Mapping[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation (natural units, ``m + c``-vectors) of one design,
        differentiable in the inner parameters (the surrogate as a simulation)."""
        x = self.encoder.encode_torch(params, choices, torch.float64)
        mean, std = self._predict_encoded(x, observation_noise=False)
        return mean[0], std[0]

    # ----- serialisation -----
    def _metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "space": space_to_list(self.space),
            "objectives": [o.name for o in self.objectives],
            "constraints": [c.name for c in self.constraints],
            "config": self._model.config(),
            **self.info,
        }

    def to_bytes(self) -> bytes:
        """The model as a safetensors blob (tensors + a JSON header; no pickle)."""
        from safetensors.torch import save

        tensors = {
            k: v.detach().to(torch.float64).contiguous().clone() for k, v in self._model.tensors().items()
        }
        tensors["y_mean"] = torch.as_tensor(self.scaling.mean, dtype=torch.float64).clone()
        tensors["y_std"] = torch.as_tensor(self.scaling.std, dtype=torch.float64).clone()
        tensors["y_log"] = torch.as_tensor(self.scaling.log, dtype=torch.float64).clone()
        return save(tensors, metadata={"paretoopt": json.dumps(self._metadata(), sort_keys=True)})

    @classmethod
    def from_bytes(
        cls,
        blob: bytes,
        *,
        space: DesignSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint],
    ) -> Surrogate:
        """Rebuild a model from :meth:`to_bytes`'s blob, refusing anything that is not a
        well-formed safetensors blob of a surrogate of this study (never unpickles).

        Raises:
            UntrustedModelError: with the reason.
        """
        meta = _read_safetensors_header(blob)
        info = _check_metadata(meta, space, objectives, constraints)
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            tensors = load(bytes(blob))
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise UntrustedModelError(f"surrogate blob is not valid safetensors: {exc}") from exc
        k = len(objectives) + len(constraints)
        for name, t in tensors.items():
            if t.dtype != torch.float64:
                raise UntrustedModelError(f"tensor {name!r} has dtype {t.dtype}, expected float64")
        y_mean, y_std, y_log = (tensors.pop(n, None) for n in ("y_mean", "y_std", "y_log"))
        if any(t is None or t.shape != (k,) for t in (y_mean, y_std, y_log)):
            raise UntrustedModelError(f"output scaling tensors missing or not of shape ({k},)")
        assert y_mean is not None and y_std is not None and y_log is not None
        if not (
            torch.all(torch.isfinite(y_mean)) and torch.all(y_std > 0) and torch.all(torch.isfinite(y_std))
        ):
            raise UntrustedModelError("output scaling tensors are not finite and positive")
        if not torch.all((y_log == 0) | (y_log == 1)):
            raise UntrustedModelError("output log flags are not 0 or 1")
        scaling = OutputScaling(y_log.numpy() == 1, y_mean.numpy(), y_std.numpy())
        encoder = DesignEncoder(space)
        if info["input_log"] != [bool(v) for v in encoder.log]:
            raise UntrustedModelError("the surrogate was fitted with another input encoding; refit it")
        kind = meta["kind"]
        config = meta["config"]
        model: _Model
        if kind == "exact_gp":
            if config != {"inputs": "one-hot"}:
                raise UntrustedModelError(f"GP config {config!r} is not this version's")
            x, y, noise, scale = (
                tensors.pop(n, None) for n in ("train_x", "train_y", "train_noise", "var_scale")
            )
            if x is None or y is None or noise is None or scale is None:
                raise UntrustedModelError("GP blob lacks its training tensors")
            if scale.shape != (k,) or not torch.all((scale >= 1.0) & (scale <= VAR_SCALE_MAX)):
                raise UntrustedModelError(f"GP variance scale is not {k} values in [1, {VAR_SCALE_MAX}]")
            n = x.shape[0] if x.dim() == 2 else -1
            if (
                x.shape != (n, encoder.dim)
                or y.shape != (n, k)
                or noise.shape != (n, k)
                or n != info["n_points"]
            ):
                raise UntrustedModelError(
                    f"GP training tensors have shapes {tuple(x.shape)}, {tuple(y.shape)}, "
                    f"{tuple(noise.shape)}; expected ({info['n_points']}, {encoder.dim}) and "
                    f"({info['n_points']}, {k})"
                )
            if not all(torch.all(torch.isfinite(t)) for t in (x, y, noise)):
                raise UntrustedModelError("GP training tensors hold non-finite values")
            state = {}
            for name in list(tensors):
                if not name.startswith("state."):
                    raise UntrustedModelError(f"unexpected tensor {name!r} in a GP blob")
                state[name[len("state.") :]] = tensors.pop(name)
            if not torch.all(x[:, encoder.n_continuous :] == x[:, encoder.n_continuous :].round()):
                raise UntrustedModelError("GP training inputs hold non-integer option indices")
            model = _ExactGP(encoder, x, y, noise, state=state, var_scale=scale)
        else:
            members, hidden = config.get("members"), config.get("hidden")
            if set(config) != {"members", "hidden"} or not all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in (members, hidden)
            ):
                raise UntrustedModelError(f"ensemble config {config!r} is malformed")
            state = {}
            for name in list(tensors):
                if not name.startswith("ensemble."):
                    raise UntrustedModelError(f"unexpected tensor {name!r} in an ensemble blob")
                state[name[len("ensemble.") :]] = tensors.pop(name)
            model = _DeepEnsemble(encoder, k, members, hidden, state=state)
        return cls(
            space=space,
            objectives=objectives,
            constraints=constraints,
            model=model,
            scaling=scaling,
            info=info,
        )


# ----------------------------------------------------------------------------- safe format
_INFO_SCHEMA: dict[str, Any] = {
    "trial_numbers": list,
    "n_points": int,
    "seed": int,
    "max_trajectory_points": int,
    "trajectory_noise_factor": float,
    "validation": dict,
    "fitted_at": str,
    "fit_time_s": float,
    "paretoopt_version": str,
    "input_log": list,
}
_FIXED_KEYS = {"format", "format_version", "kind", "space", "objectives", "constraints", "config"}
_METRIC_KEYS = {"output", "r2", "rmse", "coverage_68", "coverage_95", "n"}
_MAX_HEADER = 64 * 1024 * 1024


def _read_safetensors_header(blob: bytes) -> dict[str, Any]:
    """The JSON metadata of a safetensors blob, read without trusting anything in it."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise UntrustedModelError(f"surrogate blob must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < 8:
        raise UntrustedModelError("surrogate blob is too short to be safetensors")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > min(len(blob) - 8, _MAX_HEADER):
        raise UntrustedModelError("surrogate blob is not safetensors (bad header length; a pickle?)")
    try:
        header = json.loads(blob[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UntrustedModelError(f"surrogate blob is not safetensors (header is not JSON): {exc}") from exc
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or set(meta) != {"paretoopt"} or not isinstance(meta["paretoopt"], str):
        raise UntrustedModelError("safetensors blob carries no paretoopt surrogate metadata")
    try:
        data = json.loads(meta["paretoopt"])
    except json.JSONDecodeError as exc:
        raise UntrustedModelError(f"surrogate metadata is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UntrustedModelError("surrogate metadata is not a JSON object")
    return data


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_metadata(
    meta: dict[str, Any],
    space: DesignSpace,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> dict[str, Any]:
    """Strict schema check of a blob's metadata against the study; returns the ``info`` part."""
    expected = _FIXED_KEYS | set(_INFO_SCHEMA)
    if set(meta) != expected:
        raise UntrustedModelError(
            f"surrogate metadata keys {sorted(meta)} differ from the schema's {sorted(expected)}"
        )
    if meta["format"] != FORMAT or meta["format_version"] != FORMAT_VERSION:
        raise UntrustedModelError(
            f"not a paretoopt surrogate of format version {FORMAT_VERSION}: "
            f"{meta['format']!r} version {meta['format_version']!r}"
        )
    if meta["kind"] not in KINDS:
        raise UntrustedModelError(f"unknown surrogate kind {meta['kind']!r}")
    if meta["space"] != space_to_list(space):
        raise UntrustedModelError("the surrogate was fitted on another design space than this study's")
    if meta["objectives"] != [o.name for o in objectives] or meta["constraints"] != [
        c.name for c in constraints
    ]:
        raise UntrustedModelError(
            f"the surrogate models {meta['objectives']} / {meta['constraints']}, the study has "
            f"{[o.name for o in objectives]} / {[c.name for c in constraints]}"
        )
    if not isinstance(meta["config"], dict):
        raise UntrustedModelError("surrogate config is not an object")
    info = {key: meta[key] for key in _INFO_SCHEMA}
    for key, typ in _INFO_SCHEMA.items():
        v = info[key]
        ok = _is_num(v) if typ is float else isinstance(v, typ) and not isinstance(v, bool)
        if not ok:
            raise UntrustedModelError(f"surrogate metadata {key!r} is {v!r}, expected {typ.__name__}")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in info["trial_numbers"]):
        raise UntrustedModelError("surrogate metadata 'trial_numbers' must be integers")
    val = info["validation"]
    if set(val) != {"train_trials", "test_trials", "metrics"}:
        raise UntrustedModelError(f"surrogate validation keys {sorted(val)} differ from the schema's")
    for key in ("train_trials", "test_trials"):
        if not isinstance(val[key], list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in val[key]
        ):
            raise UntrustedModelError(f"surrogate validation {key!r} must be a list of integers")
    names = [o.name for o in objectives] + [c.name for c in constraints]
    if (
        not isinstance(val["metrics"], list)
        or [r.get("output") if isinstance(r, dict) else None for r in val["metrics"]] != names
    ):
        raise UntrustedModelError("surrogate validation metrics do not list the study's outputs")
    for r in val["metrics"]:
        if set(r) != _METRIC_KEYS or not isinstance(r["n"], int):
            raise UntrustedModelError(f"malformed validation row {r!r}")
        for key in ("r2", "rmse", "coverage_68", "coverage_95"):
            if r[key] is not None and not _is_num(r[key]):
                raise UntrustedModelError(f"validation {key} of {r['output']!r} is {r[key]!r}")
    return info


def _key() -> bytes:
    env = os.environ.get(_KEY_ENV)
    return env.encode() if env else _PUBLIC_KEY


def digest(blob: bytes) -> str:
    """HMAC-SHA256 of ``blob`` under ``$PARETOOPT_SURROGATE_KEY`` (or the public key)."""
    return _DIGEST_PREFIX + hmac.new(_key(), bytes(blob), hashlib.sha256).hexdigest()


def verify(blob: bytes, expected: str) -> None:
    """Raise :class:`UntrustedModelError` unless ``expected`` is ``blob``'s digest."""
    if not isinstance(expected, str) or not expected.startswith(_DIGEST_PREFIX):
        raise UntrustedModelError("stored surrogate has no valid digest")
    if not hmac.compare_digest(digest(blob), expected):
        raise UntrustedModelError(
            "stored surrogate's digest does not match its bytes: it was altered, or written with "
            f"another ${_KEY_ENV}; refit it with `paretoopt surrogate fit`"
        )


# ----------------------------------------------------------------------------- fitting
def _validate(
    kind: str, encoder: DesignEncoder, data: TrainingData, names: Sequence[str], seed: int, holdout: float
) -> tuple[list[dict[str, Any]], list[int], list[int], _Model]:
    """Fit on a seeded split of the trials, score on the held-out ones. The trials holding an
    extreme final value of some output or continuous parameter stay in training, and so does
    the last trial of each combination of choices: the score is of interpolation between
    evaluated designs, what a surrogate is used for; beyond them it would be extrapolation."""
    numbers = sorted(set(data.trial.tolist()))
    finals = data.subset(data.final)
    combos = {
        int(n): tuple(row[encoder.n_continuous :]) for n, row in zip(finals.trial, finals.x, strict=True)
    }
    train_nums, test_nums = split_trials(
        numbers, seed, holdout, keep=sorted(extreme_trials(data, encoder.n_continuous)), groups=combos
    )
    train = data.subset(np.isin(data.trial, train_nums))
    test = data.subset(np.isin(data.trial, test_nums))
    # a held-out trajectory may start where a training trial ended (warm starts): score only
    # designs the model has not seen
    seen = {row.tobytes() for row in train.x}
    test = test.subset(np.array([row.tobytes() not in seen for row in test.x], dtype=bool))
    model, scaling = _fit_model(kind, encoder, train, seed)
    with torch.no_grad():
        m_t, v_t, extra = model.predict(torch.as_tensor(test.x, dtype=torch.float64))
        mean, _ = scaling.to_natural(m_t, v_t)
    y_model, var_model = scaling.transformed(test.y, test.yvar)
    mean_model = m_t.numpy() * scaling.std + scaling.mean
    sd_model = np.sqrt((v_t + extra).numpy() * scaling.std**2 + np.nan_to_num(var_model, nan=0.0))
    metrics = validation_metrics(test.y, mean.numpy(), y_model, mean_model, sd_model, names)
    return metrics, train_nums, test_nums, model


def fit_surrogate(
    study: Study,
    *,
    kind: Kind = "auto",
    seed: int = 0,
    max_trajectory_points: int = MAX_TRAJECTORY_POINTS,
    holdout: float = HOLDOUT_FRACTION,
) -> Surrogate:
    """Fit a surrogate on every eligible trial of ``study`` and validate it on held-out trials.

    Args:
        study: the study.
        kind: ``"exact_gp"``, ``"deep_ensemble"`` or ``"auto"`` (see the module docstring:
            exact GP unless the study is too large for it).
        seed: seeds the held-out split and the fits.
        max_trajectory_points: most trajectory points per trial (0: final evaluations only);
            the exact GP may take fewer to stay within :data:`EXACT_GP_MAX_POINTS`.
        holdout: fraction of trials held out for validation.

    Raises:
        SurrogateError: fewer than :data:`MIN_TRIALS` completed trials, or the fit failed.
    """
    import paretoopt

    if kind not in ("auto", *KINDS):
        raise SurrogateError(f"kind must be 'auto', 'exact_gp' or 'deep_ensemble', got {kind!r}")
    t0 = time.perf_counter()
    trials = eligible_trials(study)
    if len(trials) < MIN_TRIALS:
        raise SurrogateError(
            f"study {study.name!r} has {len(trials)} completed trial(s); a surrogate needs at least "
            f"{MIN_TRIALS}: run more trials first (paretoopt run ... --trials N)"
        )
    n = len(trials)
    gp_cap = min(max_trajectory_points, max(0, (EXACT_GP_MAX_POINTS - n) // n))
    chosen = kind
    if kind == "auto":
        chosen = (
            "exact_gp" if gp_cap >= min(MIN_GP_TRAJECTORY_POINTS, max_trajectory_points) else "deep_ensemble"
        )
    cap = gp_cap if chosen == "exact_gp" else max_trajectory_points
    data = collect_training_data(study, trials, max_trajectory_points=cap)
    encoder = DesignEncoder(study.space)
    names = [o.name for o in study.objectives] + [c.name for c in study.constraints]

    with _one_thread():
        metrics, train_nums, test_nums, held = _validate(chosen, encoder, data, names, seed, holdout)
        model, scaling = _fit_model(chosen, encoder, data, seed, init=held)
    info = {
        "trial_numbers": sorted(t.number for t in trials),
        "n_points": len(data),
        "seed": int(seed),
        "max_trajectory_points": int(cap),
        "trajectory_noise_factor": float(trajectory_noise_factor(study.record.settings)),
        "validation": {"train_trials": train_nums, "test_trials": test_nums, "metrics": metrics},
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_time_s": float(time.perf_counter() - t0),
        "paretoopt_version": str(paretoopt.__version__),
        "input_log": [bool(v) for v in encoder.log],
    }
    return Surrogate(
        space=study.space,
        objectives=study.objectives,
        constraints=study.constraints,
        model=model,
        scaling=scaling,
        info=info,
    )


# ----------------------------------------------------------------------------- storage
def save_surrogate(study: Study, surrogate: Surrogate) -> int:
    """Store ``surrogate`` in ``study``'s database as its next version; returns the version."""
    blob = surrogate.to_bytes()
    stored = study.storage.save_surrogate(
        study.record.id,
        kind=surrogate.kind,
        trial_numbers=surrogate.trial_numbers,
        n_points=surrogate.n_points,
        blob=blob,
        digest=digest(blob),
    )
    surrogate.version = stored.version
    return stored.version


def load_surrogate(study: Study) -> Surrogate | None:
    """The newest stored surrogate of ``study`` (``None`` when there is none), after checking
    its digest, format, header schema and tensors.

    Raises:
        UntrustedModelError: the stored model was altered or is not a paretoopt surrogate.
    """
    stored = study.storage.get_surrogate(study.record.id)
    if stored is None:
        return None
    verify(stored.blob, stored.digest)
    surrogate = Surrogate.from_bytes(
        stored.blob, space=study.space, objectives=study.objectives, constraints=study.constraints
    )
    if surrogate.trial_numbers != stored.trial_numbers or surrogate.kind != stored.kind:
        raise UntrustedModelError("the stored surrogate's columns disagree with its signed header")
    surrogate.version = stored.version
    return surrogate


Refit = Literal["auto", "always", "never"]


def get_surrogate(study: Study, refit: Refit = "auto", *, seed: int = 0, kind: Kind = "auto") -> Surrogate:
    """The study's surrogate: the stored one, refitted (and stored) when needed.

    ``refit="auto"``: refit when no model is stored or the study's eligible trials differ from
    those the stored model was fitted on; ``"always"``: refit; ``"never"``: the stored model
    as it is (raises :class:`SurrogateError` when there is none). A stored model that fails
    its checks is refused (:class:`UntrustedModelError`), never silently replaced.
    """
    if refit not in ("auto", "always", "never"):
        raise SurrogateError(f"refit must be 'auto', 'always' or 'never', got {refit!r}")
    if refit != "always":
        stored = study.storage.get_surrogate(study.record.id)
        if stored is None and refit == "never":
            raise SurrogateError(
                f"no surrogate is stored for study {study.name!r}; fit one with "
                f"`paretoopt surrogate fit {study.name}` or Study.surrogate()"
            )
        current = sorted(t.number for t in eligible_trials(study))
        if stored is not None and (refit == "never" or stored.trial_numbers == current):
            surrogate = load_surrogate(study)
            assert surrogate is not None
            return surrogate
        if stored is not None:
            log.info(
                "study %r has %d eligible trials, its surrogate was fitted on %d: refitting",
                study.name,
                len(current),
                len(stored.trial_numbers),
            )
    surrogate = fit_surrogate(study, seed=seed, kind=kind)
    save_surrogate(study, surrogate)
    return surrogate


# ----------------------------------------------------------------------------- the surrogate as a simulation
#: Inner loop on a surrogate: deterministic and smooth, so L-BFGS-B on the mean.
SURROGATE_INNER_STEPS = 100


def surrogate_definition(
    definition: StudyDefinition, surrogate: Surrogate, normalization: Normalization
) -> StudyDefinition:
    """A study definition whose simulation is ``surrogate``'s mean (differentiable in the
    inner parameters, so the usual inner loop runs on it), with the surrogate's standard
    deviation as each figure's standard error. ``normalization`` (the real study's) fixes
    ideal and nadir, so no anchor trials are needed."""
    from paretoopt.problem import Estimate, InnerSettings, StudyDefinition

    names = surrogate.output_names

    def simulate(
        params: dict[str, torch.Tensor], choices: dict[str, Any], n_samples: int, generator: torch.Generator
    ) -> dict[str, Estimate]:
        mean, std = surrogate.torch_predict(params, choices)
        return {name: Estimate(mean[i], std[i].detach()) for i, name in enumerate(names)}

    return StudyDefinition(
        f"{definition.name}.surrogate",
        definition.space,
        definition.objectives,
        simulate,
        definition.constraints,
        inner=InnerSettings(
            optimizer="lbfgs", max_steps=SURROGATE_INNER_STEPS, n_samples=1, n_eval_samples=1
        ),
        description=f"{surrogate.kind} surrogate of {definition.name} (version {surrogate.version})",
        ideal=normalization.ideal.tolist(),
        nadir=normalization.nadir.tolist(),
    )


def surrogate_study_name(name: str) -> str:
    """Where the front traced on a study's surrogate is stored."""
    return f"{name}.surrogate"


def _design_key(choices: Mapping[str, Any], params: Mapping[str, float]) -> str:
    return json.dumps([choices, params], sort_keys=True)


def optimize_on_surrogate(
    definition: StudyDefinition,
    *,
    storage: str | BaseStorage | None = None,
    study_name: str | None = None,
    engine: str | Engine = "grid",
    engine_options: Mapping[str, Any] | None = None,
    n_trials: int = 20,
    seed: int = 0,
    load_if_exists: bool = True,
    scalarization: str = "chebyshev",
    batch_size: int | None = None,
    warm_start: bool = True,
    settings: InnerSettings | None = None,
    device: str = "cpu",
    progress: bool | Callable[[Any], None] = False,
    executor: Any = None,
) -> Study:
    """Trace the front on the study's surrogate, then re-simulate its designs for real.

    1. The study ``study_name`` (default ``definition.name``) must exist with at least
       :data:`MIN_TRIALS` completed trials; its surrogate is loaded, or refitted and stored
       when the study has grown (``Study.surrogate(refit="auto")``).
    2. The outer engine and the gradient inner loop trace ``n_trials`` trials on the surrogate's
       mean (L-BFGS-B, in seconds) in the study ``<study_name>.surrogate``, marked
       ``source="surrogate"``, with the surrogate's standard deviation as standard error.
       That study is tied to the model version: a new model starts it afresh.
    3. Every design on that surrogate front not yet re-simulated gets one final evaluation with
       the real simulation (``n_eval_samples``, evaluation mode, no inner loop), stored in the
       real study as a trial with ``source="resimulated"`` (same weights and choices, the design
       in ``init`` and ``params``). :func:`surrogate_comparison` then shows how far the
       surrogate was off.

    Crash safety as in :func:`paretoopt.optimize`: the surrogate study resumes like any study,
    and the re-simulations are enqueued (WAITING) in one transaction before any runs; a call
    after an interruption first finishes them and stops there, so an interrupted call ends
    with the same trials as an uninterrupted one. Re-simulated trials count towards a later
    ``optimize(n_trials=...)`` of the real study, like anchors; engines are told them but do
    not replay them. The arguments are those of :func:`paretoopt.optimize`; ``device`` and
    ``executor`` apply to the re-simulations, ``settings`` to the real final evaluations.

    Returns:
        The real study (with the re-simulated trials).

    Raises:
        SurrogateError: no such study, or too few completed trials to fit a surrogate.
    """
    from dataclasses import asdict, replace

    from paretoopt.exceptions import DuplicateStudyError, StudyNotFoundError
    from paretoopt.outer import Engine, make_engine
    from paretoopt.run import Runner, check_compatible, run_waiting_trials
    from paretoopt.scalarize import Normalization
    from paretoopt.storage import TrialProposal, get_storage
    from paretoopt.study import Study, spec_from_definition
    from paretoopt.trials import RESIMULATED, SURROGATE, trial_seed

    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    st = get_storage(storage)
    name = study_name or definition.name
    try:
        record = st.get_study(name)
    except StudyNotFoundError as exc:
        raise SurrogateError(
            f"--simulator surrogate needs an existing study {name!r} with at least {MIN_TRIALS} completed "
            f"trials in {st.url}; run the real simulation first (paretoopt run FILE --trials N). {exc}"
        ) from None
    main = Study(st, record)
    check_compatible(definition, main)
    run_args = {"settings": settings, "device": device, "progress": progress, "executor": executor}

    # an interrupted call left re-simulations behind: finish them, and that is this call's work
    pending = [t for t in main.trials if t.source == RESIMULATED and not t.state.is_finished]
    if pending:
        log.warning("finishing %d re-simulation(s) left by an interrupted surrogate run", len(pending))
        run_waiting_trials(definition, main, sources=(RESIMULATED,), **run_args)
        return main
    if not record.normalization:
        raise SurrogateError(f"study {name!r} has no completed trials yet; run the real simulation first")

    surrogate = get_surrogate(main, "auto", seed=seed)
    norm = Normalization.from_dict(record.normalization)
    sdef = surrogate_definition(definition, surrogate, norm)
    if isinstance(engine, Engine):
        eng = engine.copy()
        engine_name = eng.name
    else:
        eng = make_engine(engine, seed=seed, **dict(engine_options or {}))
        engine_name = engine
    sname = surrogate_study_name(name)
    tag = {"surrogate_of": name, "model_version": surrogate.version}
    try:
        srec = st.get_study(sname)
        if srec.attrs.get("surrogate_of") != name:
            raise SurrogateError(
                f"a study named {sname!r} exists in {st.url} and is not the surrogate study of {name!r}"
            )
        if srec.attrs != tag:
            log.info(
                "surrogate of %r changed (version %s): tracing its front afresh", name, surrogate.version
            )
            st.delete_study(sname)
            srec = None
    except StudyNotFoundError:
        srec = None
    if srec is None:
        spec = spec_from_definition(
            sdef,
            name=sname,
            engine=engine_name,
            engine_options=eng.options(),
            scalarization=record.scalarization,
            seed=seed,
            settings=asdict(sdef.inner),
        )
        try:
            srec = st.create_study(replace(spec, attrs=tag))
        except DuplicateStudyError:
            srec = st.get_study(sname)
    traced = Study(st, srec)
    run = Runner(
        sdef,
        traced,
        engine=eng,
        n_trials=n_trials,
        settings=sdef.inner,
        warm_start=warm_start,
        progress=progress,
        batch_size=batch_size,
        trial_source=SURROGATE,
    )
    t0 = time.perf_counter()
    run.optimize()
    log.info("traced %d trials on the surrogate in %.1f s", len(traced.trials), time.perf_counter() - t0)
    if run.stop.requested:
        return main

    # the surrogate front, re-simulated once per design
    done = {_design_key(t.choices, t.params) for t in main.trials if t.source == RESIMULATED}
    trials = main.trials
    start = max((t.number for t in trials), default=-1) + 1
    props: list[TrialProposal] = []
    for t in sorted(traced.best_trials, key=lambda x: x.number):
        key = _design_key(t.choices, t.params)
        if key in done:
            continue
        done.add(key)
        props.append(
            TrialProposal(
                tuple(t.weights),
                dict(t.choices),
                trial_seed(record.seed, start + len(props)),
                RESIMULATED,
                dict(t.params),
            )
        )
    if props:
        batch = max((t.batch for t in trials), default=-1) + 1
        st.enqueue_trials(record.id, props, batch=batch)
        run_waiting_trials(definition, main, sources=(RESIMULATED,), **run_args)
    return main


def surrogate_comparison(study: Study) -> pd.DataFrame:
    """The re-simulated designs of ``study`` next to what its surrogate predicted for them:
    per objective the surrogate's mean and standard deviation, the simulated value and its
    standard error, the error (simulated - surrogate) and its pull ``error / sqrt(std^2 +
    stderr^2)``; one row per re-simulated trial whose surrogate trial is in
    ``<study>.surrogate`` (the current model's front)."""
    import pandas as pd

    from paretoopt.exceptions import StudyNotFoundError
    from paretoopt.storage import TrialState
    from paretoopt.study import Study
    from paretoopt.trials import RESIMULATED

    def col(label: str, unit: str | None) -> str:
        return f"{label} [{unit}]" if unit else label

    columns = ["number", "surrogate trial", "feasible"]
    for o in study.objectives:
        columns += [
            col(f"{o.name} surrogate", o.unit),
            col(f"{o.name} surrogate std", o.unit),
            col(f"{o.name} simulated", o.unit),
            col(f"{o.name} stderr", o.unit),
            col(f"{o.name} error", o.unit),
            f"{o.name} pull",
        ]
    try:
        traced = Study(study.storage, study.storage.get_study(surrogate_study_name(study.name)))
    except StudyNotFoundError:
        return pd.DataFrame(columns=columns)
    predicted = {_design_key(t.choices, t.params): t for t in traced.completed_trials}
    rows = []
    for t in study.get_trials([TrialState.COMPLETE]):
        s = predicted.get(_design_key(t.choices, t.params)) if t.source == RESIMULATED else None
        if s is None or t.objectives is None or s.objectives is None:
            continue
        row: dict[str, Any] = {"number": t.number, "surrogate trial": s.number, "feasible": t.feasible}
        for i, o in enumerate(study.objectives):
            pred, std = s.objectives[i], (s.stderr or (0.0,) * len(s.objectives))[i]
            sim, se = t.objectives[i], (t.stderr or (0.0,) * len(t.objectives))[i]
            scale = math.hypot(std, se)
            row[col(f"{o.name} surrogate", o.unit)] = pred
            row[col(f"{o.name} surrogate std", o.unit)] = std
            row[col(f"{o.name} simulated", o.unit)] = sim
            row[col(f"{o.name} stderr", o.unit)] = se
            row[col(f"{o.name} error", o.unit)] = sim - pred
            row[f"{o.name} pull"] = (sim - pred) / scale if scale > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def comparison_summary(table: pd.DataFrame, objectives: Sequence[Objective]) -> str:
    """A few lines on :func:`surrogate_comparison`'s table: per objective the RMS error and the
    fraction of designs within 2 standard deviations."""
    if table.empty:
        return "no re-simulated designs to compare"
    lines = [f"surrogate vs simulation on {len(table)} re-simulated design(s):"]
    for o in objectives:
        err = table[f"{o.name} error [{o.unit}]" if o.unit else f"{o.name} error"].to_numpy(dtype=float)
        pull = table[f"{o.name} pull"].to_numpy(dtype=float)
        finite = np.isfinite(pull)
        within = f"{np.mean(np.abs(pull[finite]) <= 2.0):.0%} within 2 sigma" if finite.any() else "no spread"
        rms, worst = np.sqrt(np.mean(err**2)), np.max(np.abs(err))
        lines.append(f"  {o.label}: RMS error {rms:.4g}, max |error| {worst:.4g}, {within}")
    return "\n".join(lines)
