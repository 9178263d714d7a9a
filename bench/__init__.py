"""Benchmarks that print figures (``make bench``); never part of the timed test suite."""
