"""Benchmarks for netfence: a synthetic-cluster generator (`benchmarks.generate`) and the
timing harness behind `make bench` (`benchmarks.run`).

Kept outside the installed packages on purpose: nothing here ships to users, and the
harness must only ever see netfence the way a user does (the CLI and the public loader).
"""
