"""Trained block parameters as artefacts: safetensors blobs, SHA-256 checked, loaded weights-only.

A trial whose simulation is a pipeline stores one row per block (``trial_artefacts``, schema
revision 0006): kind, ports, frozen, the validation status of the block's checks and, for a
learned block, the safetensors blob of what its last training set (the trial's final
evaluation) with its digest and training curve. Loading checks the digest before parsing and
reads tensors only (safetensors holds no code): nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from paretoopt.blocks.core import Block, is_learned
from paretoopt.exceptions import UntrustedModelError
from paretoopt.storage.base import StoredArtefact

DIGEST_PREFIX = "sha256:"


def digest_of(blob: bytes) -> str:
    """``sha256:<hex>`` of a blob."""
    return DIGEST_PREFIX + hashlib.sha256(blob).hexdigest()


def encode_tensors(tensors: Mapping[str, torch.Tensor], block: str) -> tuple[bytes, str]:
    """A safetensors blob of ``tensors`` (contiguous CPU copies) and its digest."""
    blob = save_safetensors(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata={"paretoopt_block": block}
    )
    return blob, digest_of(blob)


def decode_tensors(blob: bytes, digest: str | None) -> dict[str, torch.Tensor]:
    """The tensors of a stored blob, after checking its digest; weights only (safetensors).
    Raises :class:`~paretoopt.exceptions.UntrustedModelError` on a missing or wrong digest or a
    blob that is not safetensors."""
    if not digest or digest != digest_of(bytes(blob)):
        raise UntrustedModelError("block artefact digest does not match its blob: refusing to load it")
    try:
        return dict(load_safetensors(bytes(blob)))
    except Exception as exc:  # safetensors raises its own error types
        raise UntrustedModelError(f"block artefact is not a safetensors blob: {exc}") from exc


def block_records(
    blocks: Sequence[Block], frozen: frozenset[str], validation: Mapping[str, Mapping[str, Any]]
) -> list[StoredArtefact]:
    """One :class:`StoredArtefact` per block, in order (a learned block with its trained
    tensors, checksummed, and its training curve)."""
    out = []
    for i, b in enumerate(blocks):
        meta: dict[str, Any] = {
            "inputs": [p.describe() for p in b.inputs],
            "outputs": [p.describe() for p in b.outputs],
            "learned": is_learned(b),
            "frozen": b.name in frozen,
            "validation": dict(validation.get(b.name, {})),
        }
        blob = digest = None
        curve: list[float] = []
        if is_learned(b):
            blob, digest = encode_tensors(b.state_tensors(), b.name)  # type: ignore[attr-defined]
            curve = [float(v) for v in b.training_curve]  # type: ignore[attr-defined]
        out.append(StoredArtefact(b.name, type(b).__name__, i, blob, digest, curve, meta))
    return out


def load_block_tensors(artefacts: Sequence[StoredArtefact]) -> dict[str, dict[str, torch.Tensor]]:
    """``{block: tensors}`` of the learned blocks among stored artefacts (digests checked)."""
    return {a.block: decode_tensors(a.blob, a.digest) for a in artefacts if a.blob is not None}


def trial_artefacts(study: Any, number: int) -> list[StoredArtefact]:
    """The stored blocks of trial ``number`` of a :class:`~paretoopt.study.Study` (``[]``
    when its simulation was not a pipeline or its storage keeps no artefacts)."""
    trial = next((t for t in study.trials if t.number == number), None)
    if trial is None:
        raise KeyError(f"study {study.name!r} has no trial {number}")
    try:
        return list(study.storage.get_trial_artefacts(trial.id))
    except NotImplementedError:
        return []


def export_artefacts(study: Any, directory: str | Path) -> Path | None:
    """Write the learned blocks of the study's Pareto-optimal trials into ``directory``: one
    ``trial-<number>-<block>.safetensors`` per block (digest checked first) and
    ``manifest.json`` (trial, block, kind, file, digest, training curve, validation status).
    ``None`` when no Pareto trial has a learned block."""
    entries = []
    out = Path(directory)
    for t in study.best_trials:
        for a in trial_artefacts(study, t.number):
            if a.blob is None:
                continue
            decode_tensors(a.blob, a.digest)  # refuse to copy a corrupted blob
            out.mkdir(parents=True, exist_ok=True)
            name = f"trial-{t.number}-{a.block}.safetensors"
            (out / name).write_bytes(a.blob)
            entries.append(
                {
                    "trial": t.number,
                    "block": a.block,
                    "kind": a.kind,
                    "file": name,
                    "digest": a.digest,
                    "training_curve": a.curve,
                    "validation": a.meta.get("validation", {}),
                }
            )
    if not entries:
        return None
    (out / "manifest.json").write_text(json.dumps(entries, indent=1))
    return out
