"""The paretoopt dashboard (Dash + plotly) over one study database.

Browse study fronts, open trials, ask the surrogate what-if questions, export Pareto tables.
Start it with ``paretoopt dashboard --storage URL`` or :func:`create_app`; see
``docs/dashboard.md``.
"""

from __future__ import annotations

from dashboard.app import DEFAULT_HOST, DEFAULT_PORT, create_app, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "serve"]
