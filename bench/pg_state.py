"""Benchmark: the state in PostgreSQL against the state file.

Starts a throw-away PostgreSQL server from the OS packages (as the tests do: tests/pg_server.py,
durability off — so the figures are the driver's and the protocol's, not the disk's), then prints:

- records per second of an apply's journal: ``record`` (one committed transaction per change in
  PostgreSQL; one fsync'ed line per change in the file), from ``--threads`` threads as the
  executor records;
- the time to load a state of ``--records`` resources;
- how long a waiting apply waits once the lock's holder is killed with SIGKILL — idle, and while
  the server works for it (a long query): the lock goes with the connection.

    python bench/pg_state.py [--records 2000] [--threads 4]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ainas_provision.certs import pki  # noqa: E402
from ainas_provision.state.model import Put, UserEntry  # noqa: E402
from ainas_provision.state.postgres import PostgresStateStore  # noqa: E402
from ainas_provision.state.protocols import LockInfo  # noqa: E402
from ainas_provision.state.store import LocalStateStore  # noqa: E402
from tests import pg_server  # noqa: E402


def records(count: int) -> list[Put]:
    return [
        Put("users", f"user{n:05d}", UserEntry({"initial_password": f"{n:064x}"}))
        for n in range(count)
    ]


def timed_apply(store, count: int, threads: int) -> float:
    state = store.load()
    store.begin(state)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda record: store.record(state, record), records(count)))
    elapsed = time.perf_counter() - start
    store.commit(state)
    return elapsed


def release_after_kill(server: pg_server.PostgresServer, url: str, mode: str) -> float:
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.pg_holder", url, mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().startswith("locked")
    waiter = PostgresStateStore(url)
    try:
        waiter.load()  # connected
        time.sleep(0.3)
        holder.kill()
        killed = time.perf_counter()
        lock_id = waiter.lock(LockInfo.mine("apply"), timeout=60)
        waited = time.perf_counter() - killed
        waiter.unlock(lock_id)
    finally:
        waiter.close()
        holder.communicate()
    return waited


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    server = pg_server.start_server(pki.make_ca("Bench CA"))
    work = Path(tempfile.mkdtemp(prefix="ainas-bench-"))
    try:
        database = server.create_database("bench")
        url = server.url(database) + "#bench"
        store = PostgresStateStore(url)
        try:
            store.ensure_schema()
            pg = timed_apply(store, args.records, args.threads)
        finally:
            store.close()
        file_store = LocalStateStore(work / "ainas.state.json")
        local = timed_apply(file_store, args.records, args.threads)
        print(
            f"records, {args.threads} threads: PostgreSQL {args.records / pg:,.0f}/s, "
            f"file {args.records / local:,.0f}/s"
        )
        store = PostgresStateStore(url)
        try:
            start = time.perf_counter()
            loaded = store.load()
            load = time.perf_counter() - start
        finally:
            store.close()
        start = time.perf_counter()
        LocalStateStore(work / "ainas.state.json").load()
        file_load = time.perf_counter() - start
        print(
            f"load of {len(loaded.users):,} resources: PostgreSQL {load * 1000:.0f} ms, "
            f"file {file_load * 1000:.0f} ms"
        )
        for mode in ("idle", "query"):
            waited = release_after_kill(server, server.url(database) + f"#{mode}", mode)
            print(f"lock free after SIGKILL of a holder ({mode}): {waited * 1000:.0f} ms")
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
