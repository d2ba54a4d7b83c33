"""Trials on a Slurm cluster, Dask workers started from paretoopt's Apptainer image by
dask-jobqueue (``pip install dask-jobqueue``; docs/external.md, "Containers").

    apptainer build paretoopt.sif containers/paretoopt.def
    python containers/jobqueue_example.py studies/calorimeter_blackbox.py --jobs 8 \
        --image $PWD/paretoopt.sif --storage postgresql+psycopg://user@dbhost/paretoopt

Each Slurm job runs one worker inside the image (``python`` there is the image's,
:func:`paretoopt.external.jobqueue_python`); the client process (this script, on the login
node) is the only one that writes to the study database. Adapt ``queue``, ``account`` and the
resources to your site.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    from paretoopt import load_study_definition
    from paretoopt.external import jobqueue_python
    from paretoopt.run import DaskExecutor, optimize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--image", required=True, help="path of paretoopt.sif")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--storage", required=True, help="a PostgreSQL URL shared with the workers' site")
    parser.add_argument("--queue", default=None)
    parser.add_argument("--account", default=None)
    args = parser.parse_args()
    study_dir = str(Path(args.study).resolve().parent)
    scratch = str(Path.cwd().resolve())  # the external simulators' workdir lives here
    cluster = SLURMCluster(
        cores=1,
        processes=1,
        memory="4GB",
        walltime="04:00:00",
        queue=args.queue,
        account=args.account,
        python=jobqueue_python("apptainer", args.image, binds=[study_dir, scratch]),
    )
    cluster.scale(jobs=args.jobs)
    with Client(cluster) as client:
        definition = load_study_definition(args.study)
        study = optimize(
            definition,
            storage=args.storage,
            n_trials=args.trials,
            engine="botorch",
            executor=DaskExecutor(client),
        )
        print(study.pareto_front())


if __name__ == "__main__":
    main()
