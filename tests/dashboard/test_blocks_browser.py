"""The trial view shows a pipeline's blocks in real Chromium: the chain in data-flow order,
each block's validation status as stored with the trial, and the learned reconstruction's
training curve (its points the stored curve's, read back from the page)."""

from __future__ import annotations

import pytest

from paretoopt.storage import TrialState
from tests.dashboard.conftest import Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def blocks_server(tmp_path_factory):
    import torch

    from dashboard import create_app
    from paretoopt import optimize
    from paretoopt.blocks import calorimeter_pipeline_study
    from paretoopt.physics.calorimetry import SEGMENTED_QUICK_INNER

    torch.set_num_threads(1)
    study = calorimeter_pipeline_study(
        reconstructions=("learned",),
        name="tiny_learned",
        n_sections=2,
        energies_gev=(2.0, 10.0, 50.0),
        absorbers=("Pb",),
        actives=("scintillator",),
        n_layers=(10, 20),
        inner=SEGMENTED_QUICK_INNER.replace(max_steps=3, n_samples=400, n_eval_samples=1200),
    )
    url = f"sqlite:///{tmp_path_factory.mktemp('blocks') / 'blocks.db'}"
    s = optimize(study, storage=url, n_trials=3, seed=2, engine="random")
    app = create_app(url, warm_surrogates=False, background_cache_dir=str(tmp_path_factory.mktemp("bgb")))
    server = Server(app)
    yield server, s
    server.close()


def test_trial_view_shows_the_block_chain_status_and_training_curve(tab, blocks_server):
    server, study = blocks_server
    tab.goto(f"{server.url}/study/tiny_learned")
    tab.wait_for_selector("#trial-blocks")
    number = int(tab.locator("#trial-title").inner_text().split()[-1])
    trial = next(t for t in study.trials if t.number == number)
    assert trial.state is TrialState.COMPLETE
    stored = study.storage.get_trial_artefacts(trial.id)
    assert tab.locator("#trial-block-chain").inner_text() == "detector → reconstruction → figure_of_merit"
    rows = tab.locator("#trial-blocks tr")
    assert rows.count() == 3
    for a in stored:
        v = a.meta["validation"]
        assert v["passed"] == v["total"] > 0  # the stored status: every check of every block passes
        row = tab.locator("#trial-blocks tr", has=tab.locator(f"th:text-is('{a.block}')"))
        assert f"valid: {v['passed']}/{v['total']} checks pass" in row.inner_text()
    assert (
        "learned"
        in tab.locator("#trial-blocks tr", has=tab.locator("th:text-is('reconstruction')")).inner_text()
    )
    # the training curve is drawn with the stored points
    sel = "[id*='training-curve'] .js-plotly-plot"
    tab.wait_for_selector(sel)
    ys = tab.evaluate(f'Array.from(document.querySelector("{sel}")._fullData[0].y)')
    curve = next(a.curve for a in stored if a.block == "reconstruction")
    assert len(curve) > 1 and ys == pytest.approx(curve, rel=1e-12)
    assert tab.locator(sel).count() == 1  # only the learned block has one
