"""The model backends of a surrogate (exact GP, deep ensemble) and their output scaling.

The backends work on standardised outputs; :class:`OutputScaling` maps between those and
natural units.

An exact GP per output (:class:`ExactGP`: botorch ``SingleTaskGP``, Matern-5/2 with one
lengthscale per column, heteroskedastic fixed-noise likelihood plus the learned noise) on at
most ``EXACT_GP_MAX_POINTS`` points; beyond, a deep ensemble (:class:`DeepEnsemble`:
:data:`ENSEMBLE_MEMBERS` MLPs on a Gaussian likelihood; Lakshminarayanan et al. 2017,
arXiv:1612.01474), whose cost grows linearly with the data, the GP's as its cube. Choices are
one-hot rather than botorch's ``MixedSingleTaskGP`` categorical kernel: on the calorimeter study
(360 points, 3 outputs) its sum-and-product kernel cost 7x more per likelihood evaluation (fit
106 s against 18 s), and one lengthscale per option lets the fit learn how alike two materials
are. Outputs are standardised, in log space where the Box-Cox likelihood prefers it
(:class:`OutputScaling`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from paretoopt.encoding import MixedEncoding
from paretoopt.exceptions import SurrogateError, UntrustedModelError
from paretoopt.surrogate.data import TrainingData
from paretoopt.surrogate.validation import central_z

#: The model backends, by the name stored with a model.
KINDS = ("exact_gp", "deep_ensemble")
Kind = Literal["auto", "exact_gp", "deep_ensemble"]
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
MISSING_NOISE = 1e4


class Model:
    """A fitted backend on standardised outputs. ``predict`` takes encoded ``n x dim`` inputs
    and returns the latent mean and variance and the learned extra noise variance, ``n x k``."""

    kind: str

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError


class ExactGP(Model):
    """Independent exact GPs, one per output (one batched botorch ``SingleTaskGP``), on the
    encoded inputs with every choice one-hot: a Matern-5/2 kernel with one lengthscale per
    column (botorch's dimension-scaled lengthscale prior, Hvarfner et al. 2024, ICML), so the
    fit learns how much each parameter and each option matters. Likelihood: the points' known
    noise (fixed, heteroskedastic) plus one learned noise level per output."""

    kind = "exact_gp"

    def __init__(
        self,
        encoder: MixedEncoding,
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
            observed = (self.noise.T < MISSING_NOISE / 2).numpy()  # k x n
            pulls = np.zeros((k, self.y.shape[0]))
            for g in np.unique(groups):
                idx = torch.as_tensor(np.flatnonzero(groups == g))
                c_inv = torch.linalg.inv(a_inv[:, idx][:, :, idx])  # k x b x b
                resid = (c_inv @ alpha[:, idx].unsqueeze(-1)).squeeze(-1)
                var = torch.diagonal(c_inv, dim1=-2, dim2=-1).clamp_min(1e-300)
                pulls[:, idx.numpy()] = (resid / var.sqrt()).numpy()
            scale = np.ones(k)
            z95 = central_z(0.95)
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


class EnsembleNet(torch.nn.Module):
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


class DeepEnsemble(Model):
    """A deep ensemble (Lakshminarayanan et al. 2017): ``members`` MLPs from different random
    initialisations and minibatch orders, each trained on the Gaussian negative log-likelihood
    with its predicted noise plus the points' known noise. Latent variance: the spread of the
    members' means; extra noise: their mean predicted noise. Choices enter one-hot."""

    kind = "deep_ensemble"

    def __init__(
        self,
        encoder: MixedEncoding,
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
        self.net = EnsembleNet(members, encoder.n_one_hot, hidden, k)
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


def fit_model(
    kind: str, encoder: MixedEncoding, data: TrainingData, seed: int, init: Model | None = None
) -> tuple[Model, OutputScaling]:
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
            np.where(observed, np.nan_to_num(vs, nan=0.0), MISSING_NOISE), dtype=torch.float64
        )
        start = init.model.state_dict() if isinstance(init, ExactGP) else None
        model: Model = ExactGP(
            encoder, x_t, y_t, v_t.clamp_min(0.0), seed=seed, init=start, groups=data.trial
        )
    else:
        y_t = torch.as_tensor(np.where(observed, ys, np.nan), dtype=torch.float64)
        v_t = torch.as_tensor(np.nan_to_num(vs, nan=0.0), dtype=torch.float64)
        model = DeepEnsemble(encoder, k, data=(x_t, y_t, v_t), seed=seed)
    return model, scaling
