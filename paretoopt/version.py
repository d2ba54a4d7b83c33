"""The package version, apart so that modules read it without importing the package root.

The root imports the runner; a module of the package that imported the root would close a cycle.
"""

__version__ = "0.1.0"
