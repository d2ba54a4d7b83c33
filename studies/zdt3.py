"""ZDT3 (Zitzler, Deb & Thiele 2000): two objectives, 30 variables in [0, 1], known front.

Run it: `paretoopt run studies/zdt3.py --trials 30`.
"""

from paretoopt.analytic import zdt_study

study = zdt_study("zdt3", n_var=30)
