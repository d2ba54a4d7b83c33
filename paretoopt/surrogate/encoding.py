"""The surrogates' inputs: designs by the shared encoding, and a frame's columns by parameter.

The encoding is :class:`~paretoopt.encoding.MixedEncoding` (the engines' own), laid out by
:meth:`~paretoopt.encoding.MixedEncoding.for_designs`: inputs normalised to ``[0, 1]`` on the
space's bounds (log space for ``log=True`` reals and for counts), choices last as option
indices, one-hot inside the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from paretoopt.encoding import MixedEncoding
from paretoopt.exceptions import SpaceError
from paretoopt.report.columns import strip_unit
from paretoopt.space import DesignSpace

if TYPE_CHECKING:
    import pandas as pd


def design_encoding(space: DesignSpace) -> MixedEncoding:
    """The encoding of ``space``'s designs the surrogates are fitted and queried on."""
    return MixedEncoding.for_designs(space)


def continuous_columns(encoding: MixedEncoding) -> list[int]:
    """The input columns of reals and integers (all but the choices, which come last)."""
    return encoding.indices("real", "integer")


def input_log(encoding: MixedEncoding) -> list[bool]:
    """Per continuous input column, whether it is encoded in log space (stored with a model)."""
    return [encoding.dims[i].log for i in continuous_columns(encoding)]


def frame_columns(space: DesignSpace, designs: pd.DataFrame) -> dict[str, Sequence[Any]]:
    """The columns of ``designs`` that name the space's parameters, by parameter name.

    A column matches by its exact name or by its header without the unit
    (``"absorber_mm [mm]"``); other columns are ignored. Raises :class:`SpaceError`
    naming every missing parameter."""
    by_name: dict[str, Any] = {}
    for c in designs.columns:
        s = str(c)
        if s in space:
            by_name[s] = c
    for c in designs.columns:
        s = strip_unit(str(c))
        if s in space and s not in by_name:
            by_name[s] = c
    missing = [p.name for p in space if p.name not in by_name]
    if missing:
        raise SpaceError(
            f"designs lack a column for {missing}; give one column per parameter and choice "
            f"({space.names}), named as in the space or with its unit, e.g. "
            f"'{space.params[0].name} [unit]'"
        )
    return {name: designs[col].tolist() for name, col in by_name.items()}
