"""Pipeline: blocks composed in data-flow order, checked when built, callable as a study's simulation.

``Pipeline(blocks)`` wires each block's inputs to the latest earlier block that outputs a port
of that name and refuses, when it is built, an input nobody produces or one whose shape or unit
differs from its producer's, naming both ends. Called as ``pipeline(params, choices,
n_samples, generator)`` it is a simulation (:mod:`paretoopt.problem.evaluation`): learned
blocks that are not frozen are first trained on a training sample (``train_fraction`` of the
call's events, simulated by the blocks upstream of them), then every block runs on an
independent evaluation sample and the last block's outputs are the call's result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from paretoopt.blocks.artefacts import block_records
from paretoopt.blocks.core import Block, Check, Context, LearnedBlock, Port, is_learned
from paretoopt.exceptions import ParetoOptError
from paretoopt.storage.base import StoredArtefact


class PipelineError(ParetoOptError, ValueError):
    """A pipeline that cannot be built: a missing producer, a shape or unit mismatch, a
    duplicate or unknown block name."""


def _shape_matches(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and all(str(x) == str(y) for x, y in zip(a, b, strict=True))


def check_connections(blocks: Sequence[Block]) -> dict[tuple[str, str], str]:
    """For every block input, the name of the block producing it; raises
    :class:`PipelineError` naming both ends on a mismatch (or the input's block and the
    ports available when nothing produces it)."""
    names = [b.name for b in blocks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PipelineError(f"block names must be unique in a pipeline, repeated: {dupes}")
    produced: dict[str, tuple[str, Port]] = {}
    wiring: dict[tuple[str, str], str] = {}
    for block in blocks:
        if not isinstance(block, Block):
            raise PipelineError(f"{block!r} is not a Block (name, inputs, outputs, forward, ...)")
        for port in block.inputs:
            if port.name not in produced:
                have = ", ".join(f"{b}.{p.describe()}" for b, p in produced.values()) or "nothing"
                raise PipelineError(
                    f"block {block.name!r} input {port.describe()} has no producer upstream; "
                    f"earlier blocks output: {have}"
                )
            src, out = produced[port.name]
            problems = []
            if not _shape_matches(out.shape, port.shape):
                problems.append("shape")
            if out.unit != port.unit:
                problems.append("unit")
            if problems:
                raise PipelineError(
                    f"{' and '.join(problems)} mismatch: block {src!r} output {out.describe()} "
                    f"feeds block {block.name!r} input {port.describe()}"
                )
            wiring[(block.name, port.name)] = src
        for port in block.outputs:
            produced[port.name] = (block.name, port)
    return wiring


class Pipeline:
    """Blocks in data-flow order, checked when built, usable as a study's simulation.

    ``frozen``: names of blocks whose parameters must not change: a frozen learned block is
    not trained (it keeps the parameters it has, e.g. loaded from a trial) and a frozen design
    block (``design_block = True``, the detector) gets the design parameters detached, so the
    inner loop sees no gradient for them and leaves them where they are.
    ``train_fraction``: share of each call's events simulated as the training sample of the
    learned blocks (the rest is the independent sample the figures are measured on), so a call
    costs the same number of simulated events whatever the blocks."""

    def __init__(
        self,
        blocks: Iterable[Block],
        *,
        frozen: Iterable[str] = (),
        train_fraction: float = 0.5,
        name: str = "pipeline",
    ) -> None:
        self.blocks: tuple[Block, ...] = tuple(blocks)
        if not self.blocks:
            raise PipelineError("a pipeline needs at least one block")
        if not 0.0 < train_fraction < 1.0:
            raise PipelineError(f"train_fraction must be in (0, 1), got {train_fraction}")
        self.wiring = check_connections(self.blocks)
        self.name = name
        self.train_fraction = float(train_fraction)
        self.frozen: frozenset[str] = frozenset()
        self._status: dict[str, dict[str, Any]] | None = None
        self.freeze(*frozen)

    # ---- structure -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [b.name for b in self.blocks]

    def block(self, name: str) -> Block:
        """The block called ``name`` (:class:`PipelineError` naming the known ones otherwise)."""
        for b in self.blocks:
            if b.name == name:
                return b
        raise PipelineError(f"no block {name!r} in pipeline {self.name!r}; blocks: {self.names}")

    def freeze(self, *names: str) -> Pipeline:
        """Freeze blocks by name (see the class doc); returns the pipeline."""
        for n in names:
            block = self.block(n)
            for p in block.trainable_parameters():
                p.requires_grad_(False)
        self.frozen = self.frozen | frozenset(names)
        return self

    def unfreeze(self, *names: str) -> Pipeline:
        for n in names:
            self.block(n)
        self.frozen = self.frozen - frozenset(names)
        return self

    def swap(self, name: str, block: Block) -> Pipeline:
        """A new pipeline with block ``name`` replaced by ``block`` (checked again)."""
        self.block(name)
        blocks = [block if b.name == name else b for b in self.blocks]
        return Pipeline(
            blocks,
            frozen=self.frozen & set(b.name for b in blocks),
            train_fraction=self.train_fraction,
            name=self.name,
        )

    def with_reference(self, name: str) -> Pipeline:
        """A new pipeline with the learned block ``name`` replaced by its reference."""
        ref = self.block(name).reference()
        if ref is None:
            raise PipelineError(f"block {name!r} has no reference implementation")
        return self.swap(name, ref)

    def learned_blocks(self) -> list[LearnedBlock]:
        return [b for b in self.blocks if is_learned(b)]  # type: ignore[misc]

    def chain(self) -> list[dict[str, Any]]:
        """The blocks as rows (name, kind, inputs, outputs, learned, frozen) for displays."""
        return [
            {
                "name": b.name,
                "kind": type(b).__name__,
                "inputs": [p.describe() for p in b.inputs],
                "outputs": [p.describe() for p in b.outputs],
                "learned": is_learned(b),
                "frozen": b.name in self.frozen,
            }
            for b in self.blocks
        ]

    # ---- running ---------------------------------------------------------------------
    def _design(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        design_frozen = any(getattr(b, "design_block", False) and b.name in self.frozen for b in self.blocks)
        return {k: (v.detach() if design_frozen else v) for k, v in params.items()}

    def run(self, context: Context, upto: int | None = None) -> dict[str, Any]:
        """Run blocks ``[0, upto)`` (all by default) on ``context``; every port's value."""
        values: dict[str, Any] = {}
        for block in self.blocks[: len(self.blocks) if upto is None else upto]:
            out = block.forward({p.name: values[p.name] for p in block.inputs}, context)
            missing = [p.name for p in block.outputs if p.name not in out]
            if missing:
                raise PipelineError(f"block {block.name!r} did not return its outputs {missing}")
            values.update(out)
        return values

    def train(self, context: Context) -> dict[str, list[float]]:
        """Train every learned block that is not frozen on ``context``'s sample, in order
        (each on what the blocks upstream of it produce); the training curves by block."""
        curves: dict[str, list[float]] = {}
        for i, block in enumerate(self.blocks):
            if is_learned(block) and block.name not in self.frozen:
                values = self.run(context, upto=i)
                learned: LearnedBlock = block  # type: ignore[assignment]
                curves[block.name] = learned.fit({p.name: values[p.name] for p in block.inputs}, context)
        return curves

    def needs_training(self) -> bool:
        return any(is_learned(b) and b.name not in self.frozen for b in self.blocks)

    def __call__(
        self,
        params: Mapping[str, torch.Tensor],
        choices: Mapping[str, Any],
        n_samples: int,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        """One simulation call: train what learns on a training sample, then run every block
        on an independent sample; the last block's outputs."""
        ctx = Context(self._design(params), dict(choices), int(n_samples), generator)
        if self.needs_training():
            n_train = max(round(n_samples * self.train_fraction), 1)
            self.train(ctx.with_samples(n_train, "train"))
            ctx = ctx.with_samples(max(int(n_samples) - n_train, 1), "eval")
        values = self.run(ctx)
        last = self.blocks[-1]
        result = values.get("result")
        if isinstance(result, dict) and any(p.name == "result" for p in last.outputs):
            return result
        return {p.name: values[p.name] for p in last.outputs}

    # ---- validation and artefacts ----------------------------------------------------
    def validate(self, block: str | None = None) -> list[Check]:
        """Every block's checks alone (or only ``block``'s)."""
        blocks = [self.block(block)] if block is not None else list(self.blocks)
        checks: list[Check] = []
        for b in blocks:
            checks.extend(b.validate())
        return checks

    def validation_status(self) -> dict[str, dict[str, Any]]:
        """Per block: checks passed, total and the names of the failed ones (computed once per
        pipeline object: the checks do not depend on the design)."""
        if self._status is None:
            status: dict[str, dict[str, Any]] = {}
            for b in self.blocks:
                checks = b.validate()
                failed = [c.check for c in checks if not c.passed]
                status[b.name] = {"passed": len(checks) - len(failed), "total": len(checks), "failed": failed}
            self._status = status
        return self._status

    def trial_artefacts(self) -> list[StoredArtefact]:
        """What a trial stores about this pipeline after its last call: every block, the
        learned ones with their trained parameters (see :mod:`paretoopt.blocks.artefacts`)."""
        return block_records(self.blocks, self.frozen, self.validation_status())

    def artefacts(self) -> dict[str, dict[str, Any]]:
        """What each learned block was last trained to: ``{name: {"tensors", "curve"}}``."""
        return {
            b.name: {"tensors": b.state_tensors(), "curve": list(b.training_curve)}
            for b in self.learned_blocks()
        }

    def load_artefacts(self, tensors: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Restore learned blocks from ``{name: tensors}`` (e.g. a stored trial's)."""
        for name, t in tensors.items():
            block = self.block(name)
            if not is_learned(block):
                raise PipelineError(f"block {name!r} is not a learned block")
            block.load_state_tensors(t)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"Pipeline({' -> '.join(self.names)}, frozen={sorted(self.frozen)})"
