"""The muon-tomography studies as pipelines (detector -> scan) give today's outputs, bit for
bit, for the same design and seed; their blocks validate against PDG values."""

from __future__ import annotations

import pytest
import torch

from paretoopt.blocks.tomography import tomography_pipeline_study
from paretoopt.physics.tomography import tomography_study
from paretoopt.problem import Estimate

torch.set_num_threads(1)


def same(a, b) -> bool:
    if isinstance(a, Estimate):
        return same(a.value, b.value) and same(a.stderr, b.stderr)
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("scenario", ["lead_block", "ladle"])
@pytest.mark.parametrize("train", [True, False])
def test_pipeline_reproduces_todays_outputs(scenario, train):
    today, piped = tomography_study(scenario), tomography_pipeline_study(scenario)
    assert piped.space.names == today.space.names and piped.objective_names == today.objective_names
    choices = today.space.default_outer()
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in today.space.default_inner().items()}
    outs = []
    for d in (today, piped):
        d.simulate.train(train)
        with torch.no_grad():
            outs.append(d.simulate(params, choices, 3000, torch.Generator().manual_seed(4)))
    assert outs[0].keys() == outs[1].keys()
    assert all(same(outs[0][k], outs[1][k]) for k in outs[0])


@pytest.mark.parametrize("scenario", ["lead_block", "ladle"])
def test_tomography_blocks_validate(scenario):
    checks = tomography_pipeline_study(scenario).simulate.validate()
    assert {c.block for c in checks} == {"detector", "scan"}
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
