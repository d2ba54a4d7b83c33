"""Our own studies as black boxes (``python -m paretoopt.external.blackbox``): through the
contract they give the same figures as the torch simulation evaluated in this process on the
same seed and sample (evaluation mode, no gradients)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from paretoopt import load_study_definition
from paretoopt.external import ExternalSimulator
from paretoopt.inner.loss import set_mode
from paretoopt.problem import evaluate

STUDIES = Path(__file__).resolve().parents[2] / "studies"


@pytest.mark.parametrize(
    ("name", "choices", "n"),
    [
        ("calorimeter", {"n_layers": 20, "absorber": "W", "active": "silicon"}, 500),
        ("muon_tomography", {"n_above": 2, "n_below": 2, "technology": "rpc"}, 3000),
    ],
)
def test_black_box_gives_the_torch_figures(tmp_path, name, choices, n):
    original = load_study_definition(
        STUDIES / f"{name if name != 'calorimeter' else 'calorimeter_uniform'}.py"
    )
    box = load_study_definition(STUDIES / f"{name}_blackbox.py")
    assert isinstance(box.simulate, ExternalSimulator)
    box.simulate.workdir = tmp_path  # keep the repository clean
    space = original.space
    assert set(choices) == set(space.outer_names)
    params = {p.name: torch.tensor(p.midpoint(), dtype=torch.float64) for p in space.inner}
    results = []
    for definition in (original, box):
        gen = torch.Generator()
        gen.manual_seed(12345)
        set_mode(definition, training=False)
        with torch.no_grad():
            results.append(evaluate(definition, params, choices, n, gen))
    ours, theirs = results
    assert torch.allclose(ours.objectives, theirs.objectives, rtol=1e-9, atol=0)
    assert torch.allclose(ours.objective_stderr, theirs.objective_stderr, rtol=1e-6, atol=1e-15)
    assert torch.allclose(ours.constraints, theirs.constraints, rtol=1e-9, atol=0)
