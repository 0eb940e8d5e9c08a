"""Benchmarks: figures printed and written to ``bench/results/``, never timed tests."""
