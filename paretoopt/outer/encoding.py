"""The engines' import path of the design encoding (:mod:`paretoopt.encoding`, shared with the surrogates)."""

from __future__ import annotations

from paretoopt.encoding import Dim, MixedEncoding, unit_from_weights, weights_from_unit

__all__ = ["Dim", "MixedEncoding", "unit_from_weights", "weights_from_unit"]
