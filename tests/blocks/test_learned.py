"""The learned reconstruction: trained on one sample, measured on an independent one, it beats
the calibrated sum on a leaking short stack by more than three standard errors and agrees with
it on a contained stack; its gradient reaches the design (the closed-form weights against
finite differences on a fixed sample)."""

from __future__ import annotations

import torch

from paretoopt.blocks import Context, LearnedEnergyRegression, calorimeter_pipeline
from paretoopt.physics.calorimetry import SegmentedCalorimeter

torch.set_num_threads(1)


def design(sim, absorber_mm, active_mm, grad=False):
    t = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=grad)  # noqa: E731
    return {**{k: t(absorber_mm) for k in sim.absorber_names}, **{k: t(active_mm) for k in sim.active_names}}


def compare(sim, absorber_mm, active_mm, choices, n_train=4000, n_eval=12000):
    """Resolutions (value, stderr) of the learned (trained on seed 1) and reference
    reconstructions on the same independent sample (seed 2)."""
    learned = calorimeter_pipeline(sim, "learned")
    learned.train(
        Context(
            design(sim, absorber_mm, active_mm),
            choices,
            n_train,
            torch.Generator().manual_seed(1),
            phase="train",
        )
    )
    learned.freeze("reconstruction")  # evaluate without retraining: the sample is independent
    with torch.no_grad():
        rl = learned(design(sim, absorber_mm, active_mm), choices, n_eval, torch.Generator().manual_seed(2))
        rr = calorimeter_pipeline(sim)(
            design(sim, absorber_mm, active_mm), choices, n_eval, torch.Generator().manual_seed(2)
        )
    return rl, rr


def test_learned_beats_the_calibrated_sum_on_a_leaking_short_stack():
    # 10 layers of 3 mm Pb + 3 mm scintillator: 5.4 X0, a quarter of a 10 GeV shower inside
    sim = SegmentedCalorimeter(n_sections=2)
    rl, rr = compare(sim, 3.0, 3.0, {"n_layers": 10, "absorber": "Pb", "active": "scintillator"})
    assert float(rr["containment"].mean()) < 0.5  # it does leak
    lv, ls = float(rl["resolution"].value), rl["resolution"].stderr
    rv, rs = float(rr["resolution"].value), rr["resolution"].stderr
    assert rv - lv > 3.0 * (ls**2 + rs**2) ** 0.5


def test_learned_and_reference_agree_on_a_contained_stack():
    # 40 X0 of Pb/LAr without lateral leakage: nothing to correct, the calibrated sum is optimal
    sim = SegmentedCalorimeter(n_sections=2, lateral_leakage=False)
    rl, rr = compare(sim, 5.6, 4.0, {"n_layers": 40, "absorber": "Pb", "active": "LAr"})
    assert float(rr["containment"].mean()) > 0.999
    lv, ls = float(rl["resolution"].value), rl["resolution"].stderr
    rv, rs = float(rr["resolution"].value), rr["resolution"].stderr
    assert abs(rv - lv) < 2.0 * (ls**2 + rs**2) ** 0.5


def test_the_weights_gradient_reaches_the_design():
    """Without the network (``steps=0``) the reconstruction is the closed-form ridge weights:
    the autograd derivative of the learned resolution with respect to an absorber thickness
    (training and evaluation samples fixed by their seeds) equals a central finite difference
    of whole calls: the implicit derivative of the training problem is included."""
    sim = SegmentedCalorimeter(n_sections=2)
    choices = {"n_layers": 10, "absorber": "Pb", "active": "silicon"}

    def call(absorber_mm: torch.Tensor) -> torch.Tensor:
        p = design(sim, 3.0, 1.0)
        p[sim.absorber_names[1]] = absorber_mm
        pipe = calorimeter_pipeline(sim, "learned", learned=LearnedEnergyRegression(steps=0))
        return pipe(p, choices, 2400, torch.Generator().manual_seed(5))["resolution"].value

    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    call(x).backward()
    h = 1e-4
    with torch.no_grad():
        fd = (
            call(torch.tensor(3.0 + h, dtype=torch.float64))
            - call(torch.tensor(3.0 - h, dtype=torch.float64))
        ) / (2 * h)
    assert float(x.grad) != 0.0
    assert abs(float(x.grad) - float(fd)) < 1e-3 * abs(float(fd)) + 1e-6

    # the weights' own dependence on the design matters: with them detached (the same samples)
    # the derivative misses the finite difference
    class Detached(LearnedEnergyRegression):
        def solve_weights(self, x, energy, weight=None):
            return super().solve_weights(x.detach(), energy, weight)

    y = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    p = design(sim, 3.0, 1.0)
    p[sim.absorber_names[1]] = y
    pipe = calorimeter_pipeline(sim, "learned", learned=Detached(steps=0))
    pipe(p, choices, 2400, torch.Generator().manual_seed(5))["resolution"].value.backward()
    assert abs(float(y.grad) - float(fd)) > 1e-2 * abs(float(fd))
