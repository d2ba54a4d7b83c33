"""A missing real component fails the tests that need it under CI and skips them loudly elsewhere."""

from __future__ import annotations

import pytest

from tests import components


def test_missing_component_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI requires chromium is missing"):
        components.missing("chromium", "no /usr/bin/chromium")


def test_missing_component_skips_with_a_warning_elsewhere(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(components, "MISSING", {})
    with pytest.warns(components.MissingComponentWarning, match="postgresql is missing"):
        with pytest.raises(pytest.skip.Exception, match="postgresql is missing"):
            components.missing("postgresql", "no initdb")
    assert components.MISSING == {"postgresql": "no initdb"}  # reported in the terminal summary
