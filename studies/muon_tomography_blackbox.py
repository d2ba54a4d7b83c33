"""The muon tomography study (studies/muon_tomography.py) as a black box: the same physics run
per evaluation by ``python -m paretoopt.external.blackbox`` through the external-simulator
contract (docs/external.md), no gradients; the inner loop is the local surrogate. Each
evaluation is a fresh process (torch import and geometry set-up, a few seconds, on top of the
simulation itself).

Run it: `paretoopt run studies/muon_tomography_blackbox.py --trials 10 --workers 2`.
"""

from pathlib import Path

from paretoopt.external.blackbox import black_box_study

study = black_box_study(Path(__file__).resolve().parent / "muon_tomography.py", timeout_s=3600)
