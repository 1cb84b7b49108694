"""The ksync benchmark: ``python -m bench.run`` (or ``make bench``) writes BENCHMARKS.md.

Not part of ``make test``. Everything runs on 127.0.0.1 against the in-process emulator
and stops by itself; see ``bench/run.py`` for the workloads and settings.
"""
