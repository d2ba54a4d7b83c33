#!/bin/sh
# Entry point of paretoopt's images (Dockerfile, paretoopt.def):
#   worker ADDRESS [dask worker options]  -> one Dask worker, one thread (a trial per process)
#   anything else                         -> the paretoopt command line
set -e
if [ "$1" = "worker" ]; then
    shift
    exec dask worker "$@" --nthreads 1
fi
exec paretoopt "$@"
