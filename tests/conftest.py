"""Shared test set-up: one torch thread (2-core CI), deterministic algorithms."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"


@pytest.fixture
def studies_dir() -> Path:
    return STUDIES


def pytest_sessionfinish(session, exitstatus):
    """Stop the PostgreSQL server the storage suite may have started."""
    from paretoopt.testing.postgres import stop_server

    stop_server()
