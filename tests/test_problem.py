import textwrap
import warnings

import pytest
import torch

from paretoopt import (
    DesignSpace,
    Estimate,
    InnerSettings,
    Objective,
    Real,
    SimulationError,
    StudyDefinition,
    StudyDefinitionError,
    load_study_definition,
)
from paretoopt.problem import evaluate


def _definition(sim):
    return StudyDefinition("t", DesignSpace(Real("a", 0.0, 1.0)), [Objective("f"), Objective("g")], sim)


def _gen():
    return torch.Generator().manual_seed(0)


def test_per_sample_and_estimate_forms():
    def sim(params, choices, n, gen):
        x = torch.randn(n, generator=gen, dtype=torch.float64) + params["a"]
        return {"f": x, "g": Estimate(params["a"] * 2, 0.1)}

    d = _definition(sim)
    ev = evaluate(d, {"a": torch.tensor(0.5, dtype=torch.float64)}, {}, 10000, _gen())
    assert abs(float(ev.objectives[0]) - 0.5) < 4 * 0.01
    assert float(ev.objective_stderr[0]) == pytest.approx(0.01, rel=0.05)  # 1/sqrt(10000)
    assert float(ev.objectives[1]) == pytest.approx(1.0)
    assert float(ev.objective_stderr[1]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ({"f": torch.tensor(1.0)}, "did not return objective 'g'"),
        ({"f": torch.ones(3, 3), "g": torch.tensor(1.0)}, r"shape \(3, 3\)"),
        ({"f": torch.tensor(float("nan")), "g": torch.tensor(1.0)}, "'f' is not finite"),
        ({"f": torch.tensor(1.0), "g": torch.tensor(float("inf"))}, "'g' is not finite"),
        ({"f": "x", "g": torch.tensor(1.0)}, "got str"),
        ([1, 2], "must return a dict"),
    ],
)
def test_malformed_simulation_outputs(out, message):
    d = _definition(lambda p, c, n, g: out)
    with pytest.raises(SimulationError, match=message):
        evaluate(d, {"a": torch.tensor(0.5)}, {}, 10, _gen())


def test_simulation_exception_is_wrapped():
    def sim(params, choices, n, gen):
        raise ZeroDivisionError("boom")

    with pytest.raises(SimulationError, match="ZeroDivisionError: boom"):
        evaluate(_definition(sim), {"a": torch.tensor(0.5)}, {}, 10, _gen())


def test_definition_validation():
    space = DesignSpace(Real("a", 0.0, 1.0))
    with pytest.raises(StudyDefinitionError, match="at least one objective"):
        StudyDefinition("t", space, [], lambda *a: {})
    with pytest.raises(StudyDefinitionError, match="duplicate"):
        StudyDefinition("t", space, [Objective("f"), Objective("f")], lambda *a: {})
    with pytest.raises(StudyDefinitionError, match="direction"):
        Objective("f", direction="down")
    with pytest.raises(StudyDefinitionError, match="both as parameters and outputs"):
        StudyDefinition("t", space, [Objective("a")], lambda *a: {})


def test_load_study_definition_errors(tmp_path):
    with pytest.raises(StudyDefinitionError, match="not found"):
        load_study_definition(tmp_path / "missing.py")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(StudyDefinitionError, match="no variable named 'study'"):
        load_study_definition(empty)
    wrong = tmp_path / "wrong.py"
    wrong.write_text("study = 42\n")
    with pytest.raises(StudyDefinitionError, match="is a int, not a StudyDefinition"):
        load_study_definition(wrong)
    broken = tmp_path / "broken.py"
    broken.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(StudyDefinitionError, match="ModuleNotFoundError"):
        load_study_definition(broken)


def test_loaded_definition_pickles_by_source(tmp_path, studies_dir):
    import pickle

    d = load_study_definition(studies_dir / "zdt1.py")
    assert d.source is not None and len(d.source_hash) == 64
    d2 = pickle.loads(pickle.dumps(d))
    assert d2.name == "zdt1" and d2.source_hash == d.source_hash


def test_a_loaded_definition_keeps_what_a_script_set_through_pickling_and_copies(studies_dir):
    """A script loads a study file and sets its inner settings, ideal and nadir: a Dask worker
    (pickling re-executes the file) ran the file's settings instead, and ``copy.copy`` (through
    the same path) dropped them and a replaced reference front."""
    import copy
    import pickle

    d = load_study_definition(studies_dir / "zdt1.py")
    d.inner = InnerSettings(mode="exact", max_steps=17)
    d.ideal, d.nadir = (0.5, 0.25), (2.0, 3.0)
    d.description = "set by a script"
    d.true_front = lambda n: torch.zeros(n, 2).numpy()
    sent = pickle.loads(pickle.dumps(d))
    assert sent.source == d.source  # still travels as its source ...
    assert (sent.inner, sent.ideal, sent.nadir) == (d.inner, d.ideal, d.nadir)
    assert sent.description == d.description
    copied = copy.copy(d)
    assert (copied.inner, copied.ideal, copied.nadir) == (d.inner, d.ideal, d.nadir)
    assert copied.true_front is d.true_front and copied.simulate is d.simulate  # ... and copies keep code


def test_warning_when_parameter_gets_no_gradient(tmp_path):
    src = textwrap.dedent(
        """
        import torch
        from paretoopt import DesignSpace, Objective, Real, StudyDefinition, InnerSettings

        def simulate(params, choices, n, gen):
            return {"f": params["a"] ** 2, "g": (1 - params["a"]) ** 2}

        study = StudyDefinition("nograd", DesignSpace(Real("a", 0, 1), Real("b", 0, 1)),
                                [Objective("f"), Objective("g")], simulate,
                                inner=InnerSettings(max_steps=3, n_eval_samples=2))
        """
    )
    f = tmp_path / "nograd.py"
    f.write_text(src)
    d = load_study_definition(f)
    from paretoopt import AugmentedChebyshev, Normalization, optimize_inner

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimize_inner(d, {}, AugmentedChebyshev([0.5, 0.5], Normalization.identity([1, 1])), seed=0)
    msgs = [str(w.message) for w in caught]
    assert any("['b'] got no gradient" in m for m in msgs), msgs
