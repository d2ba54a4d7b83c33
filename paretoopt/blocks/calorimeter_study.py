"""The calorimeter study as pipelines: the outer choice ``reconstruction`` picks the pipeline.

:func:`calorimeter_pipeline_study` takes every keyword of
:func:`~paretoopt.physics.calorimetry.segmented_calorimeter_study` (same space, objectives,
constraint and inner settings) and runs each trial through
detector -> reconstruction -> figure of merit, with the reconstruction chosen per trial
(``reconstructions``: ``"reference"``, the calibrated sum, and/or ``"learned"``). With
``reference`` the simulation is today's, bit for bit (tests/blocks/test_calorimeter_pipeline.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch

from paretoopt.blocks.calorimeter import calorimeter_pipeline
from paretoopt.blocks.core import Check
from paretoopt.blocks.pipeline import Pipeline, PipelineError
from paretoopt.physics.calorimetry import SegmentedCalorimeter, segmented_calorimeter_study
from paretoopt.problem import StudyDefinition
from paretoopt.space import Choice, DesignSpace
from paretoopt.storage.base import StoredArtefact

#: The outer choice that picks the reconstruction block, and its options.
RECONSTRUCTION = "reconstruction"
RECONSTRUCTIONS = ("reference", "learned")


class PipelineSwitch(torch.nn.Module):
    """A simulation that runs one of several pipelines, picked by the outer choice ``key``
    (``default`` when the design has no such choice). ``last`` is the pipeline of the latest
    call (whose learned blocks hold that call's training: the trial's artefacts)."""

    def __init__(
        self, sim: torch.nn.Module, pipelines: Mapping[str, Pipeline], *, key: str, default: str
    ) -> None:
        super().__init__()
        self.sim = sim  # a submodule, so the inner loop's train/eval switch reaches the physics
        self.pipelines = dict(pipelines)
        self.key = key
        self.default = default
        self.last: Pipeline = self.pipelines[default]

    def pipeline_for(self, choices: Mapping[str, Any]) -> Pipeline:
        option = str(choices.get(self.key, self.default))
        if option not in self.pipelines:
            raise PipelineError(f"{self.key}={option!r} is not one of {sorted(self.pipelines)}")
        return self.pipelines[option]

    def forward(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        self.last = self.pipeline_for(choices)
        return self.last(params, choices, n_samples, generator)

    def validate(self, block: str | None = None) -> list[Check]:
        """Every pipeline's checks, each block once; a name that several pipelines give to
        different blocks is labelled with the option (``reconstruction[learned]``)."""
        kinds: dict[str, set[str]] = {}
        for p in self.pipelines.values():
            for b in p.blocks:
                kinds.setdefault(b.name, set()).add(type(b).__name__)
        if block is not None and block not in kinds:
            raise PipelineError(f"no block {block!r}; blocks: {sorted(kinds)}")
        seen: set[tuple[str, str]] = set()
        checks: list[Check] = []
        for option, p in self.pipelines.items():
            for b in p.blocks:
                key = (b.name, type(b).__name__)
                if (block is not None and b.name != block) or key in seen:
                    continue
                seen.add(key)
                label = f"{b.name}[{option}]" if len(kinds[b.name]) > 1 else b.name
                checks.extend(replace(c, block=label) for c in b.validate())
        return checks

    def trial_artefacts(self) -> list[StoredArtefact]:
        """The artefacts of the pipeline of the latest call (:meth:`Pipeline.trial_artefacts`)."""
        return self.last.trial_artefacts()

    def freeze(self, *names: str) -> PipelineSwitch:
        for p in self.pipelines.values():
            p.freeze(*[n for n in names if n in p.names])
        return self


def calorimeter_pipeline_study(
    *,
    reconstructions: Sequence[str] = RECONSTRUCTIONS,
    frozen: Iterable[str] = (),
    **kwargs: Any,
) -> StudyDefinition:
    """:func:`segmented_calorimeter_study` (``kwargs``) as pipelines, with the outer choice
    ``reconstruction`` over ``reconstructions`` (no choice is added when there is one option:
    the study is then today's, trial for trial); ``frozen`` block names are frozen in every
    pipeline (``"detector"``: the design does not move; ``"reconstruction"``: not retrained)."""
    options = tuple(dict.fromkeys(reconstructions))
    bad = [o for o in options if o not in RECONSTRUCTIONS]
    if not options or bad:
        raise ValueError(f"reconstructions must be among {RECONSTRUCTIONS}, got {tuple(reconstructions)}")
    base = segmented_calorimeter_study(**kwargs)
    sim = base.simulate
    assert isinstance(sim, SegmentedCalorimeter)
    frozen = tuple(frozen)
    switch = PipelineSwitch(
        sim,
        {o: calorimeter_pipeline(sim, o, frozen=frozen) for o in options},
        key=RECONSTRUCTION,
        default=options[0],
    )
    space = base.space
    if len(options) > 1:
        space = DesignSpace(*space.params, Choice(RECONSTRUCTION, options))
    return StudyDefinition(
        base.name,
        space,
        base.objectives,
        switch,
        base.constraints,
        base.inner,
        description=base.description + f"; reconstruction: {', '.join(options)}",
        ideal=base.ideal,
        nadir=base.nadir,
    )
