"""``python -m paretoopt.cli``: the same as the ``paretoopt`` command."""

from paretoopt.cli.app import main

main()
