"""Shared test set-up: one torch thread (2-core CI), torch's deterministic algorithms, and the
report of real components (Chromium, PostgreSQL, TeX) that were missing (tests/components.py).

Test order does not matter: the suite passes in random order (pytest-randomly, a dev
dependency; ``pytest -p randomly --randomly-seed=N`` reproduces an order). Every random
generator a test uses is seeded in the test; pytest-randomly also reseeds Python's and numpy's
global generators before each test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
# an operation without a deterministic implementation raises instead of varying run to run
torch.use_deterministic_algorithms(True)

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"


@pytest.fixture
def studies_dir() -> Path:
    return STUDIES


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """A loud line per missing component (their tests were skipped; under CI they fail)."""
    from tests.components import INSTALL, MISSING

    for component, reason in sorted(MISSING.items()):
        terminalreporter.write_line(
            f"MISSING COMPONENT {component}: {reason}; its tests were SKIPPED (install {INSTALL[component]})",
            red=True,
            bold=True,
        )


def pytest_sessionfinish(session, exitstatus):
    """Stop the PostgreSQL server the storage suite may have started."""
    from paretoopt.testing.postgres import stop_server

    stop_server()
