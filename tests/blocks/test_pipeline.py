"""Pipelines check their wiring when built: a missing producer, a shape or unit mismatch is
refused with a message naming both ends; swap, reference and freeze act on the named block."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from paretoopt.blocks import (
    Block,
    CalibratedSum,
    Check,
    Context,
    LearnedEnergyRegression,
    Pipeline,
    PipelineError,
    Port,
    ResolutionFigure,
    calorimeter_pipeline,
)
from paretoopt.physics.calorimetry import SegmentedCalorimeter


class Toy:
    """A block whose ports are given (forward doubles its first input or emits ones)."""

    def __init__(self, name: str, inputs: tuple[Port, ...], outputs: tuple[Port, ...]) -> None:
        self.name, self.inputs, self.outputs = name, inputs, outputs

    def forward(self, inputs: dict[str, Any], context: Context) -> dict[str, Any]:
        x = next(iter(inputs.values())) if inputs else torch.ones(context.n_samples)
        return {p.name: 2 * x for p in self.outputs}

    def trainable_parameters(self) -> list[torch.Tensor]:
        return []

    def reference(self) -> None:
        return None

    def validate(self) -> list[Check]:
        return [Check(self.name, "one", 1.0, 1.0, 0.0)]


def test_a_block_is_a_block():
    assert isinstance(Toy("a", (), ()), Block)
    assert isinstance(CalibratedSum(), Block)
    assert isinstance(LearnedEnergyRegression(), Block)


def test_unit_mismatch_names_both_ends():
    src = Toy("source", (), (Port("energy", ("n",), "MeV"),))
    dst = Toy("reco", (Port("energy", ("n",), "GeV"),), (Port("out", ("n",), "GeV"),))
    with pytest.raises(PipelineError) as err:
        Pipeline([src, dst])
    msg = str(err.value)
    assert "unit mismatch" in msg and "'source'" in msg and "'reco'" in msg
    assert "MeV" in msg and "GeV" in msg


def test_shape_mismatch_names_both_ends():
    src = Toy("detector", (), (Port("deposits", ("n", "L"), "GeV"),))
    dst = Toy("reco", (Port("deposits", ("n",), "GeV"),), (Port("out", ("n",), "GeV"),))
    with pytest.raises(
        PipelineError,
        match=(
            r"shape mismatch: block 'detector' output 'deposits' \[shape \(n, L\)"
            r".*block 'reco' input 'deposits' \[shape \(n\)"
        ),
    ):
        Pipeline([src, dst])


def test_missing_producer_and_order_are_refused():
    a = Toy("a", (), (Port("x", ("n",), "1"),))
    b = Toy("b", (Port("x", ("n",), "1"),), (Port("y", ("n",), "1"),))
    with pytest.raises(
        PipelineError, match=r"block 'b' input 'x'.*no producer upstream; earlier blocks output: nothing"
    ):
        Pipeline([b, a])  # wrong data-flow order
    with pytest.raises(PipelineError, match="unique"):
        Pipeline([a, Toy("a", (), ())])
    p = Pipeline([a, b])
    out = p({}, {}, 3, torch.Generator().manual_seed(0))
    assert torch.equal(out["y"], torch.full((3,), 4.0))  # 1 -> 2 -> 4 through both blocks


def test_real_blocks_refuse_a_reconstruction_in_percent():
    sim = SegmentedCalorimeter(n_sections=2)
    pct = Toy("reco_pct", (), (Port("response", ("n",), "%"),))
    with pytest.raises(
        PipelineError,
        match=r"'reco_pct' output 'response' .*unit %.* block 'figure_of_merit' input 'response'",
    ):
        Pipeline([calorimeter_pipeline(sim).block("detector"), pct, ResolutionFigure(sim)])


def test_swap_reference_and_freeze_act_on_the_named_block():
    sim = SegmentedCalorimeter(n_sections=2)
    learned = calorimeter_pipeline(sim, "learned")
    ref = learned.with_reference("reconstruction")
    assert isinstance(ref.block("reconstruction"), CalibratedSum)
    assert isinstance(learned.block("reconstruction"), LearnedEnergyRegression)
    assert learned.needs_training() and not ref.needs_training()
    learned.freeze("reconstruction")
    assert not learned.needs_training()
    assert all(not p.requires_grad for p in learned.block("reconstruction").trainable_parameters())
    with pytest.raises(PipelineError, match=r"no block 'nope'.*detector"):
        learned.freeze("nope")
    with pytest.raises(PipelineError, match="no reference"):
        ref.with_reference("figure_of_merit")
