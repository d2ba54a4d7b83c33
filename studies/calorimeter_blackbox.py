"""The uniform calorimeter (studies/calorimeter_uniform.py) as a black box: the same physics
run per evaluation by ``python -m paretoopt.external.blackbox`` through the external-simulator
contract (docs/external.md), no gradients; the inner loop is the local surrogate.

Run it: `paretoopt run studies/calorimeter_blackbox.py --trials 20`.
"""

from pathlib import Path

from paretoopt.external.blackbox import black_box_study

study = black_box_study(Path(__file__).resolve().parent / "calorimeter_uniform.py", timeout_s=600)
