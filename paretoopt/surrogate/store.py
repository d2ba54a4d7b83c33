"""Surrogates in the study database: save the next version, load the newest, refit when grown.

A model is stored in the table ``surrogate_models`` as a safetensors blob with its digest
(:mod:`.serialize`). Each model records the trial numbers it was fitted on;
``Study.surrogate(refit="auto")`` refits when the study's eligible trials differ.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from paretoopt.exceptions import SurrogateError, UntrustedModelError
from paretoopt.surrogate.core import Surrogate
from paretoopt.surrogate.data import eligible_trials
from paretoopt.surrogate.fit import fit_surrogate
from paretoopt.surrogate.models import Kind
from paretoopt.surrogate.serialize import digest, verify

if TYPE_CHECKING:
    from paretoopt.study import Study

log = logging.getLogger("paretoopt")


def save_surrogate(study: Study, surrogate: Surrogate) -> int:
    """Store ``surrogate`` in ``study``'s database as its next version; returns the version."""
    blob = surrogate.to_bytes()
    stored = study.storage.save_surrogate(
        study.record.id,
        kind=surrogate.kind,
        trial_numbers=surrogate.trial_numbers,
        n_points=surrogate.n_points,
        blob=blob,
        digest=digest(blob),
    )
    surrogate.version = stored.version
    return stored.version


def load_surrogate(study: Study) -> Surrogate | None:
    """The newest stored surrogate of ``study`` (``None`` when there is none), after checking
    its digest, format, header schema and tensors.

    Raises:
        UntrustedModelError: the stored model was altered or is not a paretoopt surrogate.
    """
    stored = study.storage.get_surrogate(study.record.id)
    if stored is None:
        return None
    verify(stored.blob, stored.digest)
    surrogate = Surrogate.from_bytes(
        stored.blob, space=study.space, objectives=study.objectives, constraints=study.constraints
    )
    if surrogate.trial_numbers != stored.trial_numbers or surrogate.kind != stored.kind:
        raise UntrustedModelError("the stored surrogate's columns disagree with its signed header")
    surrogate.version = stored.version
    return surrogate


Refit = Literal["auto", "always", "never"]


def get_surrogate(study: Study, refit: Refit = "auto", *, seed: int = 0, kind: Kind = "auto") -> Surrogate:
    """The study's surrogate: the stored one, refitted (and stored) when needed.

    ``refit="auto"``: refit when no model is stored or the study's eligible trials differ from
    those the stored model was fitted on; ``"always"``: refit; ``"never"``: the stored model
    as it is (raises :class:`SurrogateError` when there is none). A stored model that fails
    its checks is refused (:class:`UntrustedModelError`), never silently replaced.
    """
    if refit not in ("auto", "always", "never"):
        raise SurrogateError(f"refit must be 'auto', 'always' or 'never', got {refit!r}")
    if refit != "always":
        stored = study.storage.get_surrogate(study.record.id)
        if stored is None and refit == "never":
            raise SurrogateError(
                f"no surrogate is stored for study {study.name!r}; fit one with "
                f"`paretoopt surrogate fit {study.name}` or Study.surrogate()"
            )
        current = sorted(t.number for t in eligible_trials(study))
        if stored is not None and (refit == "never" or stored.trial_numbers == current):
            surrogate = load_surrogate(study)
            assert surrogate is not None
            return surrogate
        if stored is not None:
            log.info(
                "study %r has %d eligible trials, its surrogate was fitted on %d: refitting",
                study.name,
                len(current),
                len(stored.trial_numbers),
            )
    surrogate = fit_surrogate(study, seed=seed, kind=kind)
    save_surrogate(study, surrogate)
    return surrogate
