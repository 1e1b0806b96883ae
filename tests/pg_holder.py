"""A process that takes a PostgreSQL state's lock and keeps it: ``python -m tests.pg_holder URL
[idle|query]``. It prints ``locked <pid>`` once it holds the lock, then waits — idle, or inside a
long query (``query``: the server works for it when it is killed) — until it is killed."""

from __future__ import annotations

import sys
import time

from ainas_provision.state.postgres import PostgresStateStore
from ainas_provision.state.protocols import LockInfo


def main() -> None:
    url, mode = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "idle")
    store = PostgresStateStore(url)
    store.lock(LockInfo.mine("apply"))
    print(f"locked {store._connection().info.backend_pid}", flush=True)
    if mode == "query":
        store._connection().execute("SELECT pg_sleep(600)")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
