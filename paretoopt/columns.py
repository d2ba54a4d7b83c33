"""Column names of every user-facing table (``trials_dataframe``, ``pareto_front``, exports,
the dashboard grid): units in headers, one rule everywhere.

* a parameter: ``"absorber_mm [mm]"`` (or its bare name when it has no unit);
* an objective's mean: ``"resolution [%]"``; its standard error: ``"resolution stderr [%]"``;
* a constraint's value: ``"depth [cm]"``.
"""

from __future__ import annotations

import re

from paretoopt.problem import Constraint, Objective
from paretoopt.space import Choice, Integer, Real

_UNIT_SUFFIX = re.compile(r"\s*\[[^\]]*\]$")


def _with_unit(name: str, unit: str | None) -> str:
    return f"{name} [{unit}]" if unit else name


def param_column(p: Real | Integer | Choice) -> str:
    """Header of a design parameter's column."""
    return _with_unit(p.name, p.unit)


def objective_column(o: Objective) -> str:
    """Header of an objective's mean."""
    return _with_unit(o.name, o.unit)


def stderr_column(o: Objective | Constraint) -> str:
    """Header of an objective's (or constraint's) standard error."""
    return _with_unit(f"{o.name} stderr", o.unit)


def constraint_column(c: Constraint) -> str:
    """Header of a constraint's value."""
    return _with_unit(c.name, c.unit)


def strip_unit(header: str) -> str:
    """``"absorber_mm [mm]"`` -> ``"absorber_mm"`` (frames with either form are accepted)."""
    return _UNIT_SUFFIX.sub("", header)
