"""The Block protocol: named inputs and outputs with shapes and units, forward, parameters, checks.

A block is one step of a simulation in data-flow order (source -> detector -> response ->
reconstruction -> figure of merit). It declares what it reads and writes as :class:`Port`\\ s
(name, symbolic shape, unit), so a :class:`~paretoopt.blocks.pipeline.Pipeline` can refuse a
mismatch when it is built instead of failing (or silently mixing MeV and GeV) at run time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import torch

#: A dimension of a port's shape: a fixed size or a symbol shared along the pipeline
#: (``"n"`` events, ``"S"`` readout segments).
Dim = str | int


@dataclass(frozen=True)
class Port:
    """One named value a block reads or writes.

    ``shape``: tensor shape with symbolic dimensions (``("n", "S")``), ``()`` for a 0-d
    tensor, ``None`` for a record that is not a tensor (a dataclass, a dict of figures);
    ``unit``: its unit as written in the output (``"GeV"``, ``"1"`` for a ratio)."""

    name: str
    shape: tuple[Dim, ...] | None
    unit: str
    description: str = ""

    def describe(self) -> str:
        shape = "record" if self.shape is None else "(" + ", ".join(map(str, self.shape)) + ")"
        return f"{self.name!r} [shape {shape}, unit {self.unit}]"


@dataclass(frozen=True)
class Check:
    """One validation check of a block alone: ``value`` against the known ``reference``
    (passes when ``|value - reference| <= tolerance``; ``source`` says where the reference
    comes from)."""

    block: str
    check: str
    value: float
    reference: float
    tolerance: float
    source: str = ""

    @property
    def passed(self) -> bool:
        return math.isfinite(self.value) and abs(self.value - self.reference) <= self.tolerance


@dataclass(frozen=True)
class Context:
    """What every block of one simulation call sees besides its inputs: the design
    (``params``: 0-d tensors in their units; ``choices``), the sample size and the generator."""

    params: Mapping[str, torch.Tensor]
    choices: Mapping[str, Any]
    n_samples: int
    generator: torch.Generator
    #: "train" while a learned block's training sample is simulated, else "eval"
    phase: str = "eval"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_samples(self, n_samples: int, phase: str) -> Context:
        return replace(self, n_samples=n_samples, phase=phase)


@runtime_checkable
class Block(Protocol):
    """One step of a pipeline.

    ``name`` (unique in a pipeline: freezing, validation and artefacts refer to it);
    ``inputs`` / ``outputs``: the ports it reads from earlier blocks and writes;
    ``forward(inputs, context)``: a dict with one entry per output port (more entries are
    passed on unchecked); ``trainable_parameters()``: the tensors a training step changes
    (empty for physics blocks, whose parameters are the design's); ``reference()``: for a
    learned block, the baseline that can replace it (``None`` otherwise); ``validate()``:
    checks of the block alone against known values."""

    name: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    def forward(self, inputs: Mapping[str, Any], context: Context) -> dict[str, Any]: ...

    def trainable_parameters(self) -> list[torch.Tensor]: ...

    def reference(self) -> Block | None: ...

    def validate(self) -> list[Check]: ...


@runtime_checkable
class LearnedBlock(Block, Protocol):
    """A block trained per design: ``fit(inputs, context)`` trains it on a training sample
    (the inputs the upstream blocks produced for it) and returns the training curve (loss per
    step); ``state_tensors()`` / ``load_state_tensors()`` save and restore what was trained
    (the artefact stored with a trial); ``training_curve`` is the last fit's curve."""

    training_curve: list[float]

    def fit(self, inputs: Mapping[str, Any], context: Context) -> list[float]: ...

    def state_tensors(self) -> dict[str, torch.Tensor]: ...

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None: ...


def is_learned(block: Block) -> bool:
    """Whether ``block`` is trained per design (has ``fit`` and a saved state)."""
    return isinstance(block, LearnedBlock)


def check_table(checks: Sequence[Check]) -> list[dict[str, Any]]:
    """Checks as rows ``block, check, value, reference, tolerance, pass, source``."""
    return [
        {
            "block": c.block,
            "check": c.check,
            "value": c.value,
            "reference": c.reference,
            "tolerance": c.tolerance,
            "pass": c.passed,
            "source": c.source,
        }
        for c in checks
    ]
