"""ZDT1 with its Pareto set moved inside the box (g minimised at x_i = 0.3, not on x_i = 0).

ZDT's Pareto set lies on a face of the box, which any optimiser that clips to the bounds finds
for free; this variant has the same front but an interior optimum.
"""

from paretoopt.analytic import zdt_study

study = zdt_study("zdt1", n_var=30, interior=True)
