"""Tenaz's gRPC edge, its web dashboard and its command line.

gRPC's fork handlers are turned off before anything here imports grpc: Tenaz
never uses gRPC in a child process, and the one fork it makes while gRPC runs
(pgserver running `pg_ctl stop` on the embedded PostgreSQL) made gRPC log
"skipping fork() handlers" at every stop. An operator's own setting wins.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
