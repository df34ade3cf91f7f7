"""drawdown's benchmark harness: real server processes driven by wrk, one table per run.

`./scripts/bench` (`python -m benchmarks`) starts `drawdown serve` on fresh databases seeded
through the store (`seed.py`), drives each with wrk and the Lua scripts in `lua/`, times the
pure core in process, and prints every figure beside the baseline it is compared with,
measured in the same run. See docs/benchmarks.md for the method and the recorded results.
"""
