"""How the botorch engine maximises its acquisition: enumeration, relaxation, batched L-BFGS-B, greedy q."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from paretoopt.outer.botorch.seeding import DTYPE, seed_of

if TYPE_CHECKING:
    from paretoopt.encoding import MixedEncoding

#: Discrete combinations the enumerated acquisition search focuses on (see
#: AcquisitionOptimiser._optimize_enumerated).
FOCUS_COMBOS = 4


def evaluate(acq: Any, points: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """The acquisition value of each of ``points`` (``N x d``) as a candidate of its own."""
    with torch.no_grad():
        return torch.cat([acq(c) for c in points[:, None, :].split(chunk)])


class AcquisitionOptimiser:
    """The acquisition search of the botorch engine (a mixin of :class:`BotorchEngine`).

    All combinations of the discrete coordinates are enumerated when there are at most
    ``max_enumerate`` of them; else, with ``relax_integers``, integers are optimised as
    continuous coordinates and rounded (the GP is smooth in them anyway) while the combinations
    of the choices are enumerated, when those are at most ``max_enumerate``; else botorch's
    ``optimize_acqf_mixed_alternating``. ``num_restarts`` / ``raw_samples`` are capped small.
    (On the calorimeter, 56 layer counts x 12 material pairs, the relaxation halves the
    acquisition time.) The acquisition's random draws (raw samples) are seeded by
    ``(seed, proposal index)``.
    """

    # provided by the engine
    seed: int
    n_asked: int
    num_restarts: int
    raw_samples: int
    max_enumerate: int
    relax_integers: bool
    _enc: MixedEncoding

    def _optimize(self, acq: Any, q: int) -> torch.Tensor:
        """``q`` candidates (``q x d``, integers not yet rounded) maximising ``acq``."""
        from botorch.optim import optimize_acqf
        from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

        bounds = torch.tensor(self._enc.bounds(), dtype=DTYPE)
        if not self._enc.indices("integer", "choice"):
            cand, _ = optimize_acqf(
                acq,
                bounds,
                q=q,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                options={"batch_limit": 16, "maxiter": 100},
            )
        elif self._enc.n_discrete_combinations() <= self.max_enumerate:
            cand = self._optimize_enumerated(acq, q, bounds, ("integer", "choice"))
        elif self.relax_integers and self._enc.n_discrete_combinations(("choice",)) <= self.max_enumerate:
            cand = self._optimize_enumerated(acq, q, bounds, ("choice",))
        else:
            dims = self._enc.dims
            cand, _ = optimize_acqf_mixed_alternating(
                acq,
                bounds,
                discrete_dims={i: list(dims[i].values) for i in self._enc.indices("integer")},
                cat_dims={i: list(dims[i].values) for i in self._enc.indices("choice")},
                q=q,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                options={"maxiter_alternating": 16, "batch_limit": 16},
            )
        return cand.reshape(-1, self._enc.d)

    def _optimize_enumerated(
        self, acq: Any, q: int, bounds: torch.Tensor, kinds: tuple[str, ...]
    ) -> torch.Tensor:
        """Every combination of the coordinates of ``kinds`` at once (any other coordinate is
        optimised as continuous; the engine rounds the integers afterwards):
        ``raw_samples`` Sobol points of the continuous coordinates per combination scored in
        batched evaluations (with more than 4 combinations, a quarter of them for every
        combination and the rest for the 4 best combinations only); of each combination's best
        ``num_restarts``, the best ``4 num_restarts`` overall refined together by one batched
        L-BFGS-B run (``gen_candidates_scipy`` with per-start fixed discrete values, at most 10
        iterations; its cost grows with the number of starts), the best overall kept.
        ``q > 1`` by sequential greedy conditioning (``X_pending``) over a candidate pool (the
        refined optima and the best eighth of each combination's raw points), rescored in one
        batched evaluation with the earlier picks pending. Only the first pick is refined: an
        L-BFGS-B run costs 10-60 acquisition evaluations with gradients, and rerunning it for
        every pick made it 60 % of the engine's time on the calorimeter.
        botorch's ``optimize_acqf_mixed`` does the same one combination at a time, which costs
        the number of combinations times more acquisition evaluations."""
        from botorch.generation.gen import gen_candidates_scipy

        enc = self._enc
        disc = enc.indices(*kinds)
        cont = [i for i in range(enc.d) if i not in disc]
        combos = torch.tensor([[c[i] for i in disc] for c in enc.discrete_combinations(kinds)], dtype=DTYPE)
        n_combo = combos.shape[0]
        lo, hi = bounds[0, cont], bounds[1, cont]
        sobol = torch.quasirandom.SobolEngine(
            len(cont), scramble=True, seed=seed_of(self.seed, self.n_asked, 13)
        )
        raw = lo + (hi - lo) * sobol.draw(self.raw_samples, dtype=DTYPE)  # R x dc
        full = torch.empty(n_combo, self.raw_samples, enc.d, dtype=DTYPE)
        full[..., cont] = raw
        full[..., disc] = combos[:, None, :]
        # raw scoring in two stages when there are many combinations: the first quarter of the
        # Sobol points (a well-spread prefix) for every combination, the rest for the
        # FOCUS_COMBOS most promising ones only (halves this step on the calorimeter's 12 pairs)
        values = torch.full((n_combo, self.raw_samples), -torch.inf, dtype=DTYPE)
        first = self.raw_samples
        if n_combo > FOCUS_COMBOS:
            first = min(self.raw_samples, max(self.num_restarts, self.raw_samples // 4))
        values[:, :first] = evaluate(acq, full[:, :first].reshape(-1, enc.d)).reshape(n_combo, -1)
        if first < self.raw_samples:
            focus = values[:, :first].max(dim=1).values.topk(FOCUS_COMBOS).indices
            rest = evaluate(acq, full[focus, first:].reshape(-1, enc.d))
            values[focus, first:] = rest.reshape(FOCUS_COMBOS, -1)

        def best_raw(k: int) -> tuple[torch.Tensor, torch.Tensor]:
            """Each combination's ``k`` best raw points (``C k x d``) and their values."""
            top = values.topk(k, dim=1).indices  # C x k
            points = full.gather(1, top[..., None].expand(-1, -1, enc.d)).reshape(-1, enc.d)
            return points, values.gather(1, top).reshape(-1)

        # L-BFGS-B starts: each combination's best num_restarts raw points, of which the best
        # num_restarts x FOCUS_COMBOS overall (so at least that many combinations are refined)
        starts, start_values = best_raw(min(self.num_restarts, first))
        n_starts = self.num_restarts * min(n_combo, FOCUS_COMBOS)
        if starts.shape[0] > n_starts:
            starts = starts[start_values.topk(n_starts).indices]
        starts = starts[:, None, :]
        refined, refined_values = gen_candidates_scipy(
            starts,
            acq,
            lower_bounds=bounds[0],
            upper_bounds=bounds[1],
            # the starts run as one batch until the slowest converges: one slow start made an
            # ask cost 120 evaluations instead of the usual 10-20, while on the calorimeter the
            # best start's value after 5 iterations equalled that after 100 (9 of 9 asks)
            options={"maxiter": 10},
            fixed_features={i: starts[:, 0, i].clone() for i in disc},
        )
        # the pool: the refined optima and the best eighth of each combination's raw points
        # (more when q needs them)
        raw_pool, raw_values = best_raw(min(first, max(1, self.raw_samples // 8, -(-q // n_combo))))
        pool = torch.cat([refined.reshape(-1, enc.d), raw_pool])
        pool_values = torch.cat([refined_values.reshape(-1), raw_values])
        # the picks become pending points of this acquisition, which is discarded afterwards (a
        # restore would cost one more box decomposition)
        base_pending = acq.X_pending
        chosen: list[torch.Tensor] = []
        for _ in range(q):
            if chosen:
                pending = torch.cat(chosen) if base_pending is None else torch.cat([base_pending, *chosen])
                acq.set_X_pending(pending)
                pool_values = evaluate(acq, pool)
            best = int(pool_values.argmax())
            chosen.append(pool[best : best + 1])
            keep = torch.arange(pool.shape[0]) != best
            pool, pool_values = pool[keep], pool_values[keep]
        return torch.cat(chosen)
