"""The real components some tests need (Chromium, PostgreSQL, TeX, dask.distributed): required
under CI, loud skips elsewhere.

``.ci/install-system-deps.sh`` installs the system packages. Under CI (``CI=true``) a test whose
component is missing fails, so a CI run can never pass with those tests silently skipped. On a
developer's machine the test skips, with a :class:`MissingComponentWarning` in pytest's warnings
summary and a line at the end of the run (``tests/conftest.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from typing import NoReturn

import pytest

#: What each component is and how to get it.
INSTALL = {
    "chromium": "headless Chromium at /usr/bin/chromium (bash .ci/install-system-deps.sh)",
    "postgresql": "PostgreSQL server binaries (bash .ci/install-system-deps.sh)",
    "pdflatex": "pdflatex with booktabs and siunitx (texlive-latex-base, -recommended, -science; "
    "bash .ci/install-system-deps.sh)",
    "dask.distributed": "the Python package distributed (pip install -e '.[dev]')",
}

#: Components found missing in this run, with the reason (printed in the terminal summary).
MISSING: dict[str, str] = {}


class MissingComponentWarning(UserWarning):
    """A test was skipped because a component it needs is not installed (fails under CI)."""


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(component: str, reason: str) -> NoReturn:
    """Fail (CI) or skip loudly (elsewhere): ``component`` is not available for ``reason``."""
    message = f"{component} is missing ({reason}); needs {INSTALL[component]}"
    if under_ci():
        pytest.fail(f"CI requires {message}", pytrace=False)
    MISSING.setdefault(component, reason)
    warnings.warn(MissingComponentWarning(message + "; test skipped"), stacklevel=2)
    pytest.skip(message)


def tex_available() -> str | None:
    """None when pdflatex and the packages the LaTeX export uses are installed, else why not."""
    if shutil.which("pdflatex") is None:
        return "no pdflatex on PATH"
    for sty in ("booktabs.sty", "siunitx.sty"):
        found = subprocess.run(["kpsewhich", sty], capture_output=True, text=True, check=False)
        if found.returncode != 0 or not found.stdout.strip():
            return f"TeX has no {sty}"
    return None


def require_tex() -> None:
    why = tex_available()
    if why is not None:
        missing("pdflatex", why)


def require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        missing("dask.distributed", str(exc))
