"""DTLZ2 (Deb et al. 2002): three objectives, 12 variables, front on the unit sphere.

Its bounds hold spurious stationary points (x_1 or x_2 at 0 or 1 flatten an objective);
the inner loop starts in the interior of the box to stay away from them.
"""

from paretoopt.analytic import dtlz2_study

study = dtlz2_study(n_obj=3, n_var=12)
