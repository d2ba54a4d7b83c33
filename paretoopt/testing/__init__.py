"""Helpers for tests and benchmarks (throwaway storages of each backend, servers on loopback), not studies."""
