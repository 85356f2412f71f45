"""Benchmarks of the portal build (see docs/BENCHMARKS.md)."""
