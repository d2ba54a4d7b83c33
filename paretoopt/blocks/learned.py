"""LearnedEnergyRegression: per-segment weights plus a small leakage-aware network, trained per design.

The reconstructed energy of an event with readout ``x`` (``(S,)`` segment signals, GeV) is
``E_rec = (w . x) (1 + g(f))``: ``w`` are per-segment weights, solved in closed form as the
ridge regression of the relative error ``(w . x - E)/E`` on the training sample, shrunk towards
the calibrated sum (``w = 1``); ``g`` is a small network (3 -> ``n_hidden`` -> 1, tanh) of the
shower's depth profile as seen by the readout (centroid, first and last segment fractions: how
much leaked out of the back), trained with L-BFGS on the same sample. The training sample's
energies are continuous (log-uniform over the study's range, see
:class:`~paretoopt.blocks.calorimeter.CalorimeterDetector`), never the evaluation's few beam
energies. Gradient to the design (docs/blocks.md): ``w`` is the exact minimiser of a quadratic,
so differentiating the closed form is implicit differentiation of the training problem; the
network is retrained on every call and held fixed when the design moves (alternating steps),
so the design sees the network's gradient through its inputs only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import torch

from paretoopt.blocks.core import Check, Context, Port


def profile_features(x: torch.Tensor) -> torch.Tensor:
    """``(n, 3)`` scale-free features of readout ``x`` ``(n, S)``: depth centroid (0 front ..
    1 back), first and last segment fractions. No energy scale on purpose: a network that sees
    ``log E`` learns the training energies as a prior and pulls each event towards the nearest
    one, a resolution that no real beam would give."""
    s = x.shape[1]
    total = x.sum(-1, keepdim=True).clamp_min(1e-6)
    frac = x / total
    depth = (torch.arange(s, dtype=x.dtype, device=x.device) + 0.5) / s
    return torch.stack(
        [
            (frac * depth).sum(-1),
            frac[:, 0],
            frac[:, -1],
        ],
        dim=-1,
    )


class LearnedEnergyRegression(torch.nn.Module):
    """The learned reconstruction block (see the module doc).

    ``ridge``: shrinkage of ``w`` towards 1 (relative to the mean squared relative error);
    ``steps``: L-BFGS iterations on the network per training (full batch, deterministic;
    ``decay``: L2 on its weights, so a network with nothing to learn stays near zero);
    ``seed``: the network's initial
    weights (the last layer starts at zero, so an untrained network is the weighted sum)."""

    inputs: tuple[Port, ...] = (
        Port("segment_readout_gev", ("n", "S"), "GeV", "calibrated readout of each depth segment"),
        Port("energy_gev", ("n",), "GeV", "true energy: the target when training"),
    )
    outputs: tuple[Port, ...] = (Port("response", ("n",), "1", "reconstructed over true energy"),)

    def __init__(
        self,
        *,
        name: str = "reconstruction",
        n_hidden: int = 8,
        steps: int = 60,
        decay: float = 1e-5,
        ridge: float = 1e-3,
        seed: int = 0,
        reference_block: Any = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.n_hidden = int(n_hidden)
        self.steps = int(steps)
        self.decay = float(decay)
        self.ridge = float(ridge)
        self.seed = int(seed)
        self._reference = reference_block
        self.register_buffer("weights", torch.ones(0, dtype=torch.float64))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, self.n_hidden), torch.nn.Tanh(), torch.nn.Linear(self.n_hidden, 1)
        ).to(torch.float64)
        self.reset_network()
        self.training_curve: list[float] = []
        self._w: torch.Tensor | None = None
        #: real detector's readout over the simulation's, set by fine-tuning on measured
        #: events (:func:`paretoopt.blocks.realdata.fine_tune`); applies to measured readouts
        self.calibration = 1.0

    def reset_network(self) -> None:
        """The network's seeded initial weights (last layer zero)."""
        gen = torch.Generator().manual_seed(self.seed)
        first, last = cast(torch.nn.Linear, self.net[0]), cast(torch.nn.Linear, self.net[2])
        with torch.no_grad():
            bound = 1.0 / math.sqrt(3)
            first.weight.copy_(
                torch.rand(first.weight.shape, generator=gen, dtype=torch.float64) * 2 * bound - bound
            )
            first.bias.copy_(
                torch.rand(first.bias.shape, generator=gen, dtype=torch.float64) * 2 * bound - bound
            )
            last.weight.zero_()
            last.bias.zero_()

    # ---- Block protocol --------------------------------------------------------------
    def trainable_parameters(self) -> list[torch.Tensor]:
        return [self.weights, *self.net.parameters()]

    def reference(self) -> Any:
        return self._reference

    def solve_weights(
        self, x: torch.Tensor, energy: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Closed-form ridge weights (differentiable in ``x``): minimise
        ``mean_v(((w.x - E)/E)^2) + ridge |w - 1|^2`` (``weight``: per-event weights ``v``,
        normalised to mean 1; uniform by default)."""
        a = x / energy[:, None]
        n, s = a.shape
        v = torch.ones(n, dtype=x.dtype, device=x.device) if weight is None else weight / weight.mean()
        eye = torch.eye(s, dtype=x.dtype, device=x.device)
        lhs = a.T @ (v[:, None] * a) / n + self.ridge * eye
        rhs = a.T @ v / n + self.ridge
        return torch.linalg.solve(lhs, rhs)

    def fit(self, inputs: Mapping[str, Any], context: Context | None = None) -> list[float]:
        """Train on a sample: ``w`` in closed form (kept differentiable for this call's
        evaluation), then the network from its seeded start; the network's loss per step."""
        x, energy = inputs["segment_readout_gev"], inputs["energy_gev"].detach()
        v = inputs.get("event_weight")
        v = torch.ones_like(energy) if v is None else v / v.mean()
        w = self.solve_weights(x, energy, v)
        self._w = w
        self.weights = w.detach().clone()
        e_lin = (x.detach() @ self.weights).detach()
        feats = profile_features(x.detach())
        self.reset_network()
        params = list(self.net.parameters())
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.LBFGS(
            params, lr=1.0, max_iter=self.steps, line_search_fn="strong_wolfe", tolerance_grad=1e-10
        )
        curve: list[float] = []

        def closure() -> torch.Tensor:
            opt.zero_grad()
            rel = e_lin * (1.0 + self.net(feats).squeeze(-1)) / energy - 1.0
            loss = (v * rel**2).mean() + self.decay * sum((p**2).sum() for p in params)
            loss.backward()
            curve.append(float(loss.detach()))
            return loss

        with torch.enable_grad():
            opt.step(closure)
        for p in params:  # held fixed (no gradient) until the next training
            p.grad = None
            p.requires_grad_(False)
        self.training_curve = curve
        return curve

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructed energy (GeV) of readout ``x`` ``(n, S)`` with the trained weights
        (the weights of this call's training, with their graph, when there was one)."""
        w = self._w if self._w is not None else self.weights
        self._w = None
        if w.numel() != x.shape[1]:
            raise ValueError(
                f"block {self.name!r} was trained on {w.numel()} readout segments, got {x.shape[1]}"
            )
        e_lin = x @ w.to(x.dtype)
        return e_lin * (1.0 + self.net(profile_features(x)).squeeze(-1))

    def reconstruct_measured(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructed energy (GeV) of *measured* readouts: brought to the simulation's scale
        by the fitted :attr:`calibration` first."""
        return self.reconstruct(x / self.calibration)

    def forward(self, inputs: Mapping[str, Any], context: Context | None = None) -> dict[str, Any]:  # type: ignore[override]
        x, energy = inputs["segment_readout_gev"], inputs["energy_gev"]
        return {"response": self.reconstruct(x) / energy}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """What training set: weights and network parameters (detached copies)."""
        out = {
            "weights": self.weights.detach().clone(),
            "calibration": torch.tensor([self.calibration], dtype=torch.float64),
        }
        out.update({f"net.{k}": v.detach().clone() for k, v in self.net.state_dict().items()})
        return out

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        self.weights = tensors["weights"].detach().clone().to(torch.float64)
        if "calibration" in tensors:
            self.calibration = float(tensors["calibration"].reshape(-1)[0])
        self.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        self._w = None

    def validate(self) -> list[Check]:
        """Recover a known linear calibration: events whose energy is ``c . x`` exactly with
        ``c = (0.9, 1.0, 1.1, 1.6)`` (a back segment under-calibrated, as leakage makes it)."""
        gen = torch.Generator().manual_seed(12345)
        x = torch.rand(4000, 4, generator=gen, dtype=torch.float64) * torch.tensor(
            [2.0, 4.0, 3.0, 1.0], dtype=torch.float64
        )
        c = torch.tensor([0.9, 1.0, 1.1, 1.6], dtype=torch.float64)
        energy = x @ c
        trial = LearnedEnergyRegression(ridge=0.0, steps=self.steps, decay=self.decay, seed=self.seed)
        trial.fit({"segment_readout_gev": x, "energy_gev": energy})
        checks = [
            Check(
                self.name,
                f"weight of segment {k + 1} (exact linear truth)",
                float(trial.weights[k]),
                float(c[k]),
                1e-6,
                "the generating weights",
            )
            for k in range(4)
        ]
        resp = trial.forward({"segment_readout_gev": x, "energy_gev": energy})["response"]
        checks.append(
            Check(
                self.name,
                "rms of E_rec/E - 1 (exact linear truth)",
                float((resp - 1).pow(2).mean().sqrt()),
                0.0,
                1e-6,
                "no noise in the generated events",
            )
        )
        return checks
