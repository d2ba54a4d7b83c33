"""The package version, in a module of its own so that code inside the package reads it
without importing the package root (which imports the runner)."""

__version__ = "0.1.0"
