"""``make bench``: Hush against OpenBao (and a bare-ASGI ceiling) on the same machine, same run.

Entry point: ``python -m bench.run``. Modules: :mod:`bench.peers` (start/stop the servers),
:mod:`bench.scenarios` (what each scenario configures and asks wrk to send), :mod:`bench.wrk`
(run wrk, parse its JSON summary), :mod:`bench.unseal` (unseal-to-ready timing),
:mod:`bench.profiling` (py-spy), :mod:`bench.report` (table and ``docs/benchmarks.md``).
"""
