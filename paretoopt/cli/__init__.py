"""The ``paretoopt`` command line: run | list | show | export | surrogate | dashboard.

One module per command group (:mod:`.run`, :mod:`.studies`, :mod:`.dashboard`,
:mod:`.surrogate`), their shared options and errors in :mod:`.common`, the app in :mod:`.app`.
"""

from paretoopt.cli.app import app, main

__all__ = ["app", "main"]
