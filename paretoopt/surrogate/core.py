"""The fitted surrogate (:class:`Surrogate`): its predictions and its round trip through bytes.

(parameters, choices) -> each objective and constraint with its uncertainty; the bytes are the
stored safetensors blob, checked by :mod:`.serialize` before anything in it is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from paretoopt.exceptions import SpaceError, UntrustedModelError
from paretoopt.problem import Constraint, Objective
from paretoopt.space import DesignSpace, space_to_list
from paretoopt.surrogate.encoding import design_encoding, frame_columns, input_log
from paretoopt.surrogate.models import VAR_SCALE_MAX, DeepEnsemble, ExactGP, Model, OutputScaling
from paretoopt.surrogate.serialize import FORMAT, FORMAT_VERSION, check_metadata, read_safetensors_header

if TYPE_CHECKING:
    import pandas as pd


class Surrogate:
    """A fitted surrogate of a study: (parameters, choices) -> objectives (and constraints).

    Get one with ``Study.surrogate()``. :meth:`predict` takes a pandas frame of designs and
    returns means and standard deviations in natural units, one column per objective in the
    study's order. ``validation`` holds the held-out scores (:mod:`paretoopt.surrogate.validation`);
    ``trial_numbers`` the trials it was fitted on; ``version`` its number in the database.
    """

    def __init__(
        self,
        *,
        space: DesignSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint],
        model: Model,
        scaling: OutputScaling,
        info: dict[str, Any],
    ) -> None:
        self.space = space
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.encoder = design_encoding(space)
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
            self.encoder.encode_columns(frame_columns(self.space, designs)), dtype=torch.float64
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
        x = self.encoder.encode_torch({**choices, **params}, torch.float64)
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
        meta = read_safetensors_header(blob)
        info = check_metadata(meta, space, objectives, constraints)
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
        encoder = design_encoding(space)
        if info["input_log"] != input_log(encoder):
            raise UntrustedModelError("the surrogate was fitted with another input encoding; refit it")
        kind = meta["kind"]
        config = meta["config"]
        model: Model
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
                x.shape != (n, encoder.d)
                or y.shape != (n, k)
                or noise.shape != (n, k)
                or n != info["n_points"]
            ):
                raise UntrustedModelError(
                    f"GP training tensors have shapes {tuple(x.shape)}, {tuple(y.shape)}, "
                    f"{tuple(noise.shape)}; expected ({info['n_points']}, {encoder.d}) and "
                    f"({info['n_points']}, {k})"
                )
            if not all(torch.all(torch.isfinite(t)) for t in (x, y, noise)):
                raise UntrustedModelError("GP training tensors hold non-finite values")
            state = {}
            for name in list(tensors):
                if not name.startswith("state."):
                    raise UntrustedModelError(f"unexpected tensor {name!r} in a GP blob")
                state[name[len("state.") :]] = tensors.pop(name)
            cat = encoder.indices("choice")
            if not torch.all(x[:, cat] == x[:, cat].round()):
                raise UntrustedModelError("GP training inputs hold non-integer option indices")
            model = ExactGP(encoder, x, y, noise, state=state, var_scale=scale)
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
            model = DeepEnsemble(encoder, k, members, hidden, state=state)
        return cls(
            space=space,
            objectives=objectives,
            constraints=constraints,
            model=model,
            scaling=scaling,
            info=info,
        )
