"""A mixed-variable analytic study with a known discrete structure.

Choice ``family``: A is ZDT1 (front f2 = 1 - sqrt(f1)), B the same with the objectives
swapped (front f2 = (1 - f1)^2); A owns the front for f1 < 0.382, B beyond. Integer ``level``
(0-3) adds 0.25 * level to g, so level 0 dominates. An outer engine should find both
families at level 0.
"""

from paretoopt.analytic import mixed_study

study = mixed_study(n_var=10)
