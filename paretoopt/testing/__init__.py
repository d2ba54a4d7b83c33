"""Helpers for tests and benchmarks (real servers on loopback), not for studies."""
