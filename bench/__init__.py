"""`make bench`: Tenaz against a naive baseline, on one machine, in one run.

__main__.py       the command line (`python -m bench`): workloads, sizes, `--quick`, output
harness.py        one run of one workload against one system: processes, load, measurement
postgres.py       the private, durable PostgreSQL (pgserver's binaries; fsync and
                  synchronous_commit on) and a fresh database per run
processes.py      every subprocess the benchmark starts, stopped at the end whatever happens
sampler.py        CPU seconds and peak RSS of process groups, sampled every 0.2 s
systems.py        how to start and observe each system under test (Tenaz, the baseline)
workloads.py      drain, unary (and its no-op ceiling), latency, retry precision, recovery
                  after an outage, backlog
load.py           a load-generating client, run as its own process (`python -m bench.load`)
fake_platform.py  the fake Meta over HTTP, run as its own process so its CPU is apart
report.py         the side-by-side table, on stdout and in docs/benchmarks.md
baseline/         the design card read literally: one procrastinate job per event
"""
