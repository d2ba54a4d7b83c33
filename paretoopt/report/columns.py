"""Headers of every user-facing table and figure axis (units, direction tags): one rule everywhere."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from paretoopt.problem import Constraint, Objective
from paretoopt.space import Choice, Integer, Real

if TYPE_CHECKING:
    import pandas as pd

# The rule (``trials_dataframe``, ``pareto_front``, exports, figures, the dashboard grid):
# * a parameter: ``"absorber_mm [mm]"`` (or its bare name when it has no unit);
# * an objective's mean: ``"resolution [%]"``; its standard error: ``"resolution stderr [%]"``;
# * a constraint's value: ``"depth [cm]"``;
# * where an objective's direction matters (exports, figure axes): ``"resolution [%] (min)"``.

_UNIT_SUFFIX = re.compile(r"\s*\[[^\]]*\]$")

#: Columns of a trials frame that are bookkeeping, not a design parameter or an outcome.
BOOKKEEPING_COLUMNS: frozenset[str] = frozenset(
    {
        "number",
        "state",
        "source",
        "weights",
        "feasible",
        "knee",
        "n_calls",
        "n_backward",
        "n_steps",
        "wall_time_s",
        "seed",
        "error",
    }
)


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


def direction_tag(o: Objective) -> str:
    """``"(min)"`` or ``"(max)"``: how every export and figure axis marks an objective's direction."""
    return "(min)" if o.direction == "minimize" else "(max)"


def objective_header(o: Objective) -> str:
    """An objective's mean as exports head it and figures title its axis: ``"resolution [%] (min)"``."""
    return f"{objective_column(o)} {direction_tag(o)}"


def find_column(df: pd.DataFrame, header: str, bare: str) -> str | None:
    """The column of ``df`` headed ``header`` (or by the bare name), else None."""
    if header in df.columns:
        return header
    if bare in df.columns:
        return bare
    return None


def resolve_column(df: pd.DataFrame, name: str) -> str:
    """A column of ``df`` by its full header or its bare name (``"absorber_mm"``); KeyError if none."""
    if name in df.columns:
        return name
    for c in df.columns:
        if strip_unit(str(c)) == name:
            return str(c)
    raise KeyError(f"no column {name!r}; the frame has {list(df.columns)}")


__all__ = [
    "BOOKKEEPING_COLUMNS",
    "constraint_column",
    "direction_tag",
    "find_column",
    "objective_column",
    "objective_header",
    "param_column",
    "resolve_column",
    "stderr_column",
    "strip_unit",
]
