"""Mutation check of the test suite: break the code on purpose and see whether a test notices.

Each mutation is one source edit (a string replaced exactly once) applied to a temporary copy
of the checkout; the tests named with it then run there (``pytest -x``). A mutation is
*killed* when at least one of them fails, *SURVIVED* when all pass (a hole in the suite),
*n/a* when its source line is gone (the code was rewritten: update the mutation). Before the
mutations, each distinct test selection runs once on the unmutated copy (the baseline): a
selection that fails there makes its mutations meaningless, and the table says so.

Run from the repository root (takes 10-15 minutes on 2 cores; ``--only WORD`` runs the mutations
whose name contains WORD; ``--no-baseline`` skips the baseline runs)::

    python benchmarks/mutation_check.py

Prints a Markdown table and writes ``benchmarks/results/mutation_check.json``. The latest
table is in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import print_table, write_json

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


EXPORT_TESTS = ("tests/test_export_truth.py", "tests/test_export.py", "tests/test_cli.py")
ANCHOR_TESTS = (
    "tests/test_inner.py",
    "tests/test_runner.py::test_anchor_normalization_is_estimated_and_stored",
    "tests/test_resume_fixture.py",
)
BROWSER_TESTS = ("tests/dashboard/test_truth.py", "tests/dashboard/test_browser.py")

MUTATIONS: tuple[Mutation, ...] = (
    # ---- the exporter
    Mutation(
        "export: two objective columns swapped in the review table (Markdown, LaTeX, HTML)",
        "paretoopt/report/table.py",
        """    for o in data.objectives:
        measured(
            objective_header(o),
            find_column(front, objective_column(o), o.name),
            find_column(front, stderr_column(o), f"{o.name} stderr"),
        )""",
        """    for o, v in zip(data.objectives, data.objectives[::-1]):
        measured(
            objective_header(o),
            find_column(front, objective_column(v), v.name),
            find_column(front, stderr_column(v), f"{v.name} stderr"),
        )""",
        EXPORT_TESTS,
    ),
    Mutation(
        "export: two objective columns swapped in the full table (CSV, XLSX)",
        "paretoopt/report/table.py",
        """    for o in data.objectives:
        rename[objective_column(o)] = objective_header(o)""",
        """    for o, v in zip(data.objectives, data.objectives[::-1]):
        rename[objective_column(o)] = objective_header(v)""",
        EXPORT_TESTS,
    ),
    Mutation(
        "export: CSV floats written to 15 significant digits",
        "paretoopt/report/csv_format.py",
        """to_csv(index=False, lineterminator="\\n")""",
        """to_csv(index=False, lineterminator="\\n", float_format="%.15g")""",
        EXPORT_TESTS,
    ),
    Mutation(
        "export: PDG rounding keeps two digits up to 394 instead of 354",
        "paretoopt/report/rounding.py",
        "keep = 2 if three <= 354 else 1",
        "keep = 2 if three <= 394 else 1",
        ("tests/test_export_truth.py",),
    ),
    Mutation(
        "export: HTML cells not escaped",
        "paretoopt/report/html_format.py",
        "text = x.html if isinstance(x, Rounded) else e(x)",
        "text = x.html if isinstance(x, Rounded) else x",
        ("tests/test_export.py",),
    ),
    # ---- the dashboard
    Mutation(
        "dashboard: the what-if's sigma dropped",
        "dashboard/whatif.py",
        "    return mean, std\n",
        "    return mean, 0.0 * std\n",
        BROWSER_TESTS,
    ),
    # ---- normalisation
    Mutation(
        "normalization: anchor off-weight 1e-3 -> 0.1",
        "paretoopt/normalization.py",
        "ANCHOR_OFF_WEIGHT = 1e-3",
        "ANCHOR_OFF_WEIGHT = 0.1",
        ANCHOR_TESTS,
    ),
    Mutation(
        "normalization: every anchor weights the first objective",
        "paretoopt/normalization.py",
        "        w[k] = 1.0",
        "        w[0] = 1.0",
        ANCHOR_TESTS,
    ),
    # ---- engines, surrogates
    Mutation(
        "botorch: Python's random left unseeded in the acquisition search",
        "paretoopt/outer/botorch/seeding.py",
        "            random.seed(seed)\n",
        "            pass\n",
        ("tests/test_same_seed.py::test_botorch_with_more_options_than_it_enumerates_gives_the_same_study",),
    ),
    Mutation(
        "botorch: GP noise = stderr instead of stderr^2",
        "paretoopt/outer/botorch/fit.py",
        "yvar = (SE**2).clamp_min(1e-12)",
        "yvar = (SE).clamp_min(1e-12)",
        ("tests/outer/test_botorch.py::test_noise_from_stored_standard_errors",),
    ),
    Mutation(
        "surrogate run: odd-numbered front designs not re-simulated",
        "paretoopt/workflows/surrogate_run.py",
        "        if key in done:\n",
        "        if key in done or t.number % 2:\n",
        ("tests/test_surrogate.py::test_simulator_surrogate_traces_then_resimulates_and_resumes",),
    ),
    # ---- physics: one sign flip per physics module (the tomography package: one per module
    # with its own physics)
    Mutation(
        "physics/materials: E_s sign flipped",
        "paretoopt/physics/materials.py",
        "E_S_MEV = 21.2052",
        "E_S_MEV = -21.2052",
        ("tests/physics/test_materials.py",),
    ),
    Mutation(
        "physics/showers: sign of the ln y slope of the ln T-ln alpha correlation flipped",
        "paretoopt/physics/showers.py",
        "GP_RHO = (0.705, -0.023)",
        "GP_RHO = (0.705, 0.023)",
        ("tests/physics/test_showers.py",),
    ),
    Mutation(
        "physics/muons: sign of Guan's P2 flipped",
        "paretoopt/physics/muons.py",
        "GUAN_P2 = -0.068287",
        "GUAN_P2 = 0.068287",
        ("tests/physics/test_muons.py",),
    ),
    Mutation(
        "physics/scattering: sign of Highland's log coefficient flipped",
        "paretoopt/physics/scattering.py",
        "HIGHLAND_LOG_COEF = 0.038",
        "HIGHLAND_LOG_COEF = -0.038",
        ("tests/physics/test_scattering.py",),
    ),
    Mutation(
        "physics/calorimetry: sign of Wigmans' sampling constant flipped",
        "paretoopt/physics/calorimetry/sampling.py",
        "WIGMANS_CONSTANT = 0.027",
        "WIGMANS_CONSTANT = -0.027",
        ("tests/physics/test_calorimetry.py",),
    ),
    Mutation(
        "physics/energy_loss: sign of the density-effect correction flipped",
        "paretoopt/physics/energy_loss.py",
        "(log_term - beta2 - 0.5 * delta)",
        "(log_term - beta2 + 0.5 * delta)",
        ("tests/physics/test_energy_loss.py",),
    ),
    Mutation(
        "physics/tomography/scattering_model: muons gain energy in matter (energy-loss sign flipped)",
        "paretoopt/physics/tomography/scattering_model.py",
        "        top = top - de",
        "        top = top + de",
        ("tests/physics/test_tomography.py::test_kink_model_is_calibrated_against_the_simulation",),
    ),
    Mutation(
        "physics/tomography/fisher: sign of the momentum profiling (Schur complement) flipped",
        "paretoopt/physics/tomography/fisher.py",
        "return f_uu - shrink[:, None, None]",
        "return f_uu + shrink[:, None, None]",
        (
            "tests/physics/test_tomography.py::test_profiled_fisher_is_the_marginal_precision_computed_by_hand",
        ),
    ),
    Mutation(
        "physics/tomography/momentum: sign of the spectrum's Jacobian p^2/E flipped",
        "paretoopt/physics/tomography/momentum.py",
        "+ torch.log(p * p / e)[None, :]",
        "- torch.log(p * p / e)[None, :]",
        ("tests/physics/test_muons.py::test_momentum_prior_weights_follow_the_spectrum",),
    ),
    Mutation(
        "physics/tomography/likelihood: sign of the kinks' quadratic form in the likelihood flipped",
        "paretoopt/physics/tomography/likelihood.py",
        "return (-0.5 * (torch.log(det) + quad)",
        "return (-0.5 * (torch.log(det) - quad)",
        (
            "tests/physics/test_tomography_fom.py::test_block_estimate_is_unbiased_where_the_map_of_a_log_scale_is_not",
        ),
    ),
    Mutation(
        "physics/tomography/inference: sign of the likelihood's Hessian flipped in the Newton fit",
        "paretoopt/physics/tomography/inference.py",
        "tot, g, info = tot + d.value, g + d.grad, info - d.hess",
        "tot, g, info = tot + d.value, g + d.grad, info + d.hess",
        (
            "tests/physics/test_tomography_inference.py::test_unknown_momentum_fit_converges_with_full_newton_steps",
        ),
    ),
    Mutation(
        "physics/tomography/tracks: sign of the panels' scattering in the fits' covariance flipped",
        "paretoopt/physics/tomography/tracks.py",
        'slope_var = slope_var + torch.einsum("np,npv->nv", v1 * v1, hits.ms_var)',
        'slope_var = slope_var - torch.einsum("np,npv->nv", v1 * v1, hits.ms_var)',
        ("tests/physics/test_tomography.py::test_fit_covariance_with_panel_scattering_matches_monte_carlo",),
    ),
)


def checkout_copy(dest: Path) -> None:
    """The tracked and untracked (not ignored) files of the checkout, copied to ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = Path(raw.decode())
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def run_tests(copy: Path, tests: tuple[str, ...], timeout_s: int) -> tuple[str, float, str]:
    """(outcome, seconds, last line) of ``pytest -x`` on ``tests`` in ``copy``."""
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0, f"no result within {timeout_s} s"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    last = lines[-1] if lines else proc.stderr.strip().splitlines()[-1:]
    outcome = {0: "pass", 1: "fail"}.get(proc.returncode, f"error (pytest exit {proc.returncode})")
    return outcome, time.perf_counter() - t0, str(last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the mutations whose name contains this")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated runs")
    parser.add_argument("--timeout", type=int, default=1500, help="seconds per pytest run")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if args.only in m.name]
    with tempfile.TemporaryDirectory(prefix="paretoopt-mutation-") as tmp:
        base = Path(tmp) / "base"
        checkout_copy(base)
        baseline: dict[tuple[str, ...], str] = {}
        if not args.no_baseline:
            for tests in dict.fromkeys(m.tests for m in chosen):
                outcome, seconds, last = run_tests(base, tests, args.timeout)
                baseline[tests] = outcome
                print(f"baseline {' '.join(tests)}: {outcome} in {seconds:.0f} s ({last})", flush=True)
        rows = []
        for m in chosen:
            work = Path(tmp) / "mutant"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(base, work)
            target = work / m.path
            text = target.read_text(encoding="utf-8") if target.exists() else ""
            if text.count(m.old) != 1:
                result, seconds, last = "n/a (source changed)", 0.0, f"{text.count(m.old)} matches"
            elif baseline.get(m.tests, "pass") != "pass":
                result, seconds, last = f"invalid (baseline {baseline[m.tests]})", 0.0, ""
            else:
                target.write_text(text.replace(m.old, m.new), encoding="utf-8")
                outcome, seconds, last = run_tests(work, m.tests, args.timeout)
                result = {"fail": "killed", "pass": "SURVIVED"}.get(outcome, outcome)
            rows.append(
                {"mutation": m.name, "tests": " ".join(m.tests), "result": result, "s": round(seconds)}
            )
            print(f"{result:>10}  {m.name}  ({seconds:.0f} s; {last})", flush=True)
    print_table(rows, "Mutation check")
    killed = sum(r["result"] == "killed" for r in rows)
    print(f"\n{killed} of {len(rows)} mutations killed")
    write_json("mutation_check", {"mutations": rows, "killed": killed, "total": len(rows)})


if __name__ == "__main__":
    main()
