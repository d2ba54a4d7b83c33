"""Every use of botorch / torch internals, behind a tested-version check with public-API fallbacks."""

from __future__ import annotations

import functools
import logging
import re
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.utils.transforms import match_batch_shape
from torch import Tensor

logger = logging.getLogger(__name__)

#: botorch versions the internals used here were tested with (pyproject.toml states the same
#: range). Outside it paretoopt uses botorch's public API only (one warning in the log).
TESTED_BOTORCH = (">=0.12", "<0.19")

#: Private members of botorch's ``logei`` module that :func:`prepare_fused_kernel` drives.
FUSED_KERNEL_INTERNALS = ("_C", "_load_attempted", "_try_load_fused_kernel")

#: Private members of botorch's qLogNEHVI that :class:`JointPosteriorQLogNEHVI` overrides or calls.
POSTERIOR_HOOK_INTERNALS = (
    "_compute_posterior_samples_and_concat_pending",
    "_set_sampler",
    "_get_f_X_samples",
)

_warned_versions: set[str] = set()


def botorch_version() -> str:
    """The installed botorch's version string (``"unknown"`` when it has none)."""
    import botorch

    return str(getattr(botorch, "__version__", "unknown"))


@functools.lru_cache(maxsize=32)
def version_in_range(version: str, spec: tuple[str, ...] = TESTED_BOTORCH) -> bool:
    """Whether ``version`` satisfies every clause of ``spec`` (``packaging`` when installed,
    else a comparison of the leading release numbers); an unparsable version does not."""
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging ships with pip/setuptools environments
        return _release_in_range(version, spec)
    try:
        return SpecifierSet(",".join(spec)).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


def _release(text: str) -> tuple[int, ...] | None:
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return None if match is None else tuple(int(p) for p in match.group(1).split("."))


def _release_in_range(version: str, spec: tuple[str, ...]) -> bool:
    """The tuple fallback of :func:`version_in_range` (operators ``>= > <= < == !=``)."""
    have = _release(version)
    if have is None:
        return False
    compare = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    for clause in spec:
        match = re.match(r"\s*(>=|<=|==|!=|>|<)\s*(.+)", clause)
        want = None if match is None else _release(match.group(2))
        if match is None or want is None:
            return False
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        if not compare[match.group(1)](a, b):
            return False
    return True


def botorch_tested() -> bool:
    """True when the installed botorch lies in :data:`TESTED_BOTORCH`; otherwise logs one
    warning (once per version) and returns False, and the callers keep to the public API."""
    version = botorch_version()
    if version_in_range(version):
        return True
    if version not in _warned_versions:
        _warned_versions.add(version)
        logger.warning(
            "botorch %s is outside the range paretoopt is tested with (%s): the botorch engine "
            "uses botorch's public API only (the fused kernel is not prepared, qLogNEHVI is "
            "botorch's own: same values, slower)",
            version,
            ",".join(TESTED_BOTORCH),
        )
    return False


# ----- botorch's fused qLogNEHVI C++ kernel -----
def fused_kernel_module() -> ModuleType | None:
    """botorch's ``logei`` module when this botorch is tested and has the fused-kernel
    internals :func:`prepare_fused_kernel` drives, else None."""
    from botorch.acquisition.multi_objective import logei

    if botorch_tested() and all(hasattr(logei, name) for name in FUSED_KERNEL_INTERNALS):
        return logei
    return None


def prepare_fused_kernel(enabled: bool = True) -> bool:
    """Load (compiling on first use) botorch's fused qLogNEHVI C++ kernel, visibly.

    botorch compiles a small C++ extension for qLog(N)EHVI on first use (about 70 s on two
    cores, then cached in ``~/.cache/torch_extensions``). This announces the compilation with a
    warning before it starts; when compilation fails botorch's pure-Python path (same values,
    about 3x slower) is used, with a warning saying so. ``enabled=False`` skips the attempt.

    Returns True when the kernel is in use, False when botorch runs its pure-Python path
    (``enabled=False``, or compilation failed) or when the kernel is not prepared at all (a
    botorch outside :data:`TESTED_BOTORCH` or without these internals: botorch then does what
    it does by itself). Safe to call many times; only the first call in a process does anything.
    """
    logei: Any = fused_kernel_module()
    if logei is None:
        if not enabled:
            logger.info("fused_kernel=False has no effect with this botorch; nothing prepared")
        return False
    if logei._load_attempted:
        return logei._C is not None
    if not enabled:
        logei._load_attempted = True  # botorch then keeps its pure-Python path
        logger.info("botorch fused qLogNEHVI kernel disabled; using the pure-Python path")
        return False
    build_dir = kernel_build_dir()
    if not kernel_cached(build_dir):
        warnings.warn(
            "compiling botorch's fused qLogNEHVI C++ kernel (first use on this machine, about "
            f"70 s on two cores; cached in {build_dir} afterwards). Pass fused_kernel=False to "
            "the botorch engine to skip it.",
            UserWarning,
            stacklevel=3,
        )
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            logei._try_load_fused_kernel()
        except Exception as exc:  # botorch catches compile errors itself; be safe anyway
            logei._C = None
            caught.append(warnings.WarningMessage(str(exc), RuntimeWarning, __file__, 0))
    if logei._C is None:
        reason = "; ".join(str(w.message) for w in caught) or "unknown reason"
        warnings.warn(
            f"botorch's fused qLogNEHVI kernel is unavailable ({reason}); using botorch's "
            "pure-Python qLogNEHVI (same values, about 3x slower).",
            UserWarning,
            stacklevel=3,
        )
        return False
    logger.info("botorch fused qLogNEHVI kernel ready after %.1f s", time.perf_counter() - t0)
    return True


def kernel_build_dir() -> str:
    """Where torch caches the compiled kernel (only used for the compile message)."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return str(_get_build_directory("logei_fused_ext", verbose=False))
    except Exception:  # a private torch helper: any failure just shortens the message
        return "~/.cache/torch_extensions"


def kernel_cached(build_dir: str) -> bool:
    """Whether a compiled kernel already lies in ``build_dir``."""
    p = Path(build_dir).expanduser()
    return p.is_dir() and any(p.glob("*.so"))


# ----- qLogNEHVI's per-call posterior -----
def posterior_hook_available() -> bool:
    """Whether :class:`JointPosteriorQLogNEHVI` may replace botorch's per-call posterior: a
    tested botorch whose qLogNEHVI still has the members the hook overrides and calls."""
    return botorch_tested() and all(
        hasattr(qLogNoisyExpectedHypervolumeImprovement, name) for name in POSTERIOR_HOOK_INTERNALS
    )


class JointPosteriorQLogNEHVI(qLogNoisyExpectedHypervolumeImprovement):
    """botorch's qLogNEHVI with one hook: a subclass may supply the joint posterior over
    ``(X_baseline, X)`` that botorch otherwise asks the model for at every call (botorch's
    ``_compute_posterior_samples_and_concat_pending``). Pending points, sampler and sampling
    stay botorch's. Where the hook is unavailable (see :func:`posterior_hook_available`) or
    the subclass declines, this is botorch's stock qLogNEHVI."""

    def uses_joint_posterior(self) -> bool:
        """Whether :meth:`joint_posterior` serves this acquisition's model (default: no)."""
        return False

    def joint_posterior(self, X: Tensor) -> GPyTorchPosterior:
        """The posterior over ``(X_baseline, X)`` (``batch x q x d`` candidates) as botorch's
        ``model.posterior(cat([X_baseline, X]))`` returns it."""
        raise NotImplementedError

    def _compute_posterior_samples_and_concat_pending(self, X: Tensor) -> tuple[Tensor, Tensor]:
        if not self.uses_joint_posterior() or not posterior_hook_available():
            return super()._compute_posterior_samples_and_concat_pending(X)
        # pending points not folded into the cached baseline join the candidates (as botorch does)
        if self.X_pending is not None:
            num_pending = self.X_pending.shape[-2]
            own_baseline: Tensor = self._X_baseline  # type: ignore[assignment]  # a buffer
            num_uncached = (
                num_pending + own_baseline.shape[-2] - self.X_baseline.shape[-2]
                if self.cache_pending
                else num_pending
            )
            uncached = self.X_pending[..., num_pending - num_uncached :, :]
            X = torch.cat([X, match_batch_shape(uncached, X)], dim=-2)
        posterior = self.joint_posterior(X)
        q_in = X.shape[-2]
        self._set_sampler(q_in=q_in, posterior=posterior)
        return self._get_f_X_samples(posterior=posterior, q_in=q_in), X
