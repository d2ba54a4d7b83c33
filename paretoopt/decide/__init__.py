"""Deciding on a study's stored front (issue #22): the best design under a budget, the design
nearest an aspiration, E-NAUTILUS navigation from the nadir, trade-off rates in the objectives'
units, ties within Monte Carlo errors, and the decision log a design review replays.

Every function works on the stored front (:func:`front_of`), never on all trials, and calls no
simulator. Details and examples: docs/decide.md.
"""

from paretoopt.decide.choose import achievement, budget, parse_bounds, reference_point
from paretoopt.decide.front import (
    Criterion,
    Decision,
    DecisionError,
    DecisionFront,
    Design,
    EmptyFrontError,
    InfeasibleBudgetError,
    UnknownObjectiveError,
    front_from_arrays,
    front_from_trials,
    front_of,
)
from paretoopt.decide.log import default_author, log_decision, log_navigation
from paretoopt.decide.navigate import Navigation, NavigationStep, navigate
from paretoopt.decide.navigate import options as navigate_options
from paretoopt.decide.navigate import start as navigate_start
from paretoopt.decide.rates import TradeoffRates, tradeoff_rates
from paretoopt.decide.refine import RefinedBudget, refine_budget

__all__ = [
    "Criterion",
    "Decision",
    "DecisionError",
    "DecisionFront",
    "Design",
    "EmptyFrontError",
    "InfeasibleBudgetError",
    "Navigation",
    "NavigationStep",
    "RefinedBudget",
    "TradeoffRates",
    "UnknownObjectiveError",
    "achievement",
    "budget",
    "default_author",
    "front_from_arrays",
    "front_from_trials",
    "front_of",
    "log_decision",
    "log_navigation",
    "navigate",
    "navigate_options",
    "navigate_start",
    "parse_bounds",
    "reference_point",
    "refine_budget",
    "tradeoff_rates",
]
