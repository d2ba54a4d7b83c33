"""The stored format of a surrogate, checked before anything in it is trusted.

The safetensors header, the strict schema of its metadata, and the HMAC digest stored beside
the blob.

A model is a safetensors blob (tensors only, plus a JSON header checked against a strict schema)
with an HMAC-SHA256 digest beside it. Nothing is unpickled; a blob whose digest does not match,
that is not safetensors, or whose header does not match the study is refused
(:class:`~paretoopt.exceptions.UntrustedModelError`). Set ``PARETOOPT_SURROGATE_KEY`` on every
machine that writes or reads models to make the digest a secret-keyed signature; without it the
key is public and the digest detects corruption and edits by anyone who does not also recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import struct
from collections.abc import Sequence
from typing import Any

from paretoopt.exceptions import UntrustedModelError
from paretoopt.problem import Constraint, Objective
from paretoopt.space import DesignSpace, space_to_list
from paretoopt.surrogate.models import KINDS

FORMAT = "paretoopt-surrogate"
FORMAT_VERSION = 1
_KEY_ENV = "PARETOOPT_SURROGATE_KEY"
_PUBLIC_KEY = b"paretoopt-surrogate-v1"
_DIGEST_PREFIX = "hmac-sha256:"
#: The keys of a model's metadata besides the fixed ones, with their types.
_INFO_SCHEMA: dict[str, Any] = {
    "trial_numbers": list,
    "n_points": int,
    "seed": int,
    "max_trajectory_points": int,
    "trajectory_noise_factor": float,
    "validation": dict,
    "fitted_at": str,
    "fit_time_s": float,
    "paretoopt_version": str,
    "input_log": list,
}
_FIXED_KEYS = {"format", "format_version", "kind", "space", "objectives", "constraints", "config"}
_METRIC_KEYS = {"output", "r2", "rmse", "coverage_68", "coverage_95", "n"}
_MAX_HEADER = 64 * 1024 * 1024


def read_safetensors_header(blob: bytes) -> dict[str, Any]:
    """The JSON metadata of a safetensors blob, read without trusting anything in it."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise UntrustedModelError(f"surrogate blob must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < 8:
        raise UntrustedModelError("surrogate blob is too short to be safetensors")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > min(len(blob) - 8, _MAX_HEADER):
        raise UntrustedModelError("surrogate blob is not safetensors (bad header length; a pickle?)")
    try:
        header = json.loads(blob[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UntrustedModelError(f"surrogate blob is not safetensors (header is not JSON): {exc}") from exc
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or set(meta) != {"paretoopt"} or not isinstance(meta["paretoopt"], str):
        raise UntrustedModelError("safetensors blob carries no paretoopt surrogate metadata")
    try:
        data = json.loads(meta["paretoopt"])
    except json.JSONDecodeError as exc:
        raise UntrustedModelError(f"surrogate metadata is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UntrustedModelError("surrogate metadata is not a JSON object")
    return data


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_metadata(
    meta: dict[str, Any],
    space: DesignSpace,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> dict[str, Any]:
    """Strict schema check of a blob's metadata against the study; returns the ``info`` part."""
    expected = _FIXED_KEYS | set(_INFO_SCHEMA)
    if set(meta) != expected:
        raise UntrustedModelError(
            f"surrogate metadata keys {sorted(meta)} differ from the schema's {sorted(expected)}"
        )
    if meta["format"] != FORMAT or meta["format_version"] != FORMAT_VERSION:
        raise UntrustedModelError(
            f"not a paretoopt surrogate of format version {FORMAT_VERSION}: "
            f"{meta['format']!r} version {meta['format_version']!r}"
        )
    if meta["kind"] not in KINDS:
        raise UntrustedModelError(f"unknown surrogate kind {meta['kind']!r}")
    if meta["space"] != space_to_list(space):
        raise UntrustedModelError("the surrogate was fitted on another design space than this study's")
    if meta["objectives"] != [o.name for o in objectives] or meta["constraints"] != [
        c.name for c in constraints
    ]:
        raise UntrustedModelError(
            f"the surrogate models {meta['objectives']} / {meta['constraints']}, the study has "
            f"{[o.name for o in objectives]} / {[c.name for c in constraints]}"
        )
    if not isinstance(meta["config"], dict):
        raise UntrustedModelError("surrogate config is not an object")
    info = {key: meta[key] for key in _INFO_SCHEMA}
    for key, typ in _INFO_SCHEMA.items():
        v = info[key]
        ok = _is_num(v) if typ is float else isinstance(v, typ) and not isinstance(v, bool)
        if not ok:
            raise UntrustedModelError(f"surrogate metadata {key!r} is {v!r}, expected {typ.__name__}")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in info["trial_numbers"]):
        raise UntrustedModelError("surrogate metadata 'trial_numbers' must be integers")
    val = info["validation"]
    if set(val) != {"train_trials", "test_trials", "metrics"}:
        raise UntrustedModelError(f"surrogate validation keys {sorted(val)} differ from the schema's")
    for key in ("train_trials", "test_trials"):
        if not isinstance(val[key], list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in val[key]
        ):
            raise UntrustedModelError(f"surrogate validation {key!r} must be a list of integers")
    names = [o.name for o in objectives] + [c.name for c in constraints]
    if (
        not isinstance(val["metrics"], list)
        or [r.get("output") if isinstance(r, dict) else None for r in val["metrics"]] != names
    ):
        raise UntrustedModelError("surrogate validation metrics do not list the study's outputs")
    for r in val["metrics"]:
        if set(r) != _METRIC_KEYS or not isinstance(r["n"], int):
            raise UntrustedModelError(f"malformed validation row {r!r}")
        for key in ("r2", "rmse", "coverage_68", "coverage_95"):
            if r[key] is not None and not _is_num(r[key]):
                raise UntrustedModelError(f"validation {key} of {r['output']!r} is {r[key]!r}")
    return info


def _key() -> bytes:
    env = os.environ.get(_KEY_ENV)
    return env.encode() if env else _PUBLIC_KEY


def digest(blob: bytes) -> str:
    """HMAC-SHA256 of ``blob`` under ``$PARETOOPT_SURROGATE_KEY`` (or the public key)."""
    return _DIGEST_PREFIX + hmac.new(_key(), bytes(blob), hashlib.sha256).hexdigest()


def verify(blob: bytes, expected: str) -> None:
    """Raise :class:`UntrustedModelError` unless ``expected`` is ``blob``'s digest."""
    if not isinstance(expected, str) or not expected.startswith(_DIGEST_PREFIX):
        raise UntrustedModelError("stored surrogate has no valid digest")
    if not hmac.compare_digest(digest(blob), expected):
        raise UntrustedModelError(
            "stored surrogate's digest does not match its bytes: it was altered, or written with "
            f"another ${_KEY_ENV}; refit it with `paretoopt surrogate fit`"
        )
