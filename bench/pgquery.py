"""Timed work inside PostgreSQL: CREATE INDEX with its progress shown,
index size, and k-NN queries sent as a prepared statement by one client."""

import os
import threading
import time

import numpy as np
import psycopg2
from psycopg2 import sql

from progress import ProgressPoller

K = 10


# Session settings for fair single-client timings: no JIT and no parallel
# workers unless asked, plus the user's --set NAME=VALUE pairs.
def apply_settings(conn, settings):
    with conn.cursor() as cur:
        for name, value in settings:
            cur.execute(sql.SQL("SET {} = {}").format(sql.SQL(name), sql.Literal(str(value))))


# Text form of a float32 vector that parses back to the same floats.
def vector_literal(row):
    return "[" + ",".join("%.9g" % x for x in row.tolist()) + "]"


# The EXECUTE statements for the queries (text built before any timing).
def execute_statements(queries, name="knn"):
    return ["EXECUTE %s('%s')" % (name, vector_literal(q)) for q in queries]


# The distance operator of each metric (pgvector's names).
OPERATORS = {"l2": "<->", "ip": "<#>", "cosine": "<=>"}


def prepare_knn(conn, table, k=K, name="knn", metric="l2"):
    with conn.cursor() as cur:
        cur.execute("DEALLOCATE ALL")
        cur.execute(sql.SQL("PREPARE {} (vector) AS SELECT id FROM {} ORDER BY v " + OPERATORS[metric] +
                            " $1 LIMIT {}").format(sql.Identifier(name), sql.Identifier(table), sql.Literal(k)))


# Builds an index from its spec ("USING ... (...) WITH (...)"), showing
# progress from a second connection; returns wall-clock seconds.
def build_index(conn, connect, table, index_name, spec, log=print, show_progress=True):
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name)))
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        poller = ProgressPoller(connect, pid, log) if show_progress else None
        stmt = sql.SQL("CREATE INDEX {} ON {} ").format(sql.Identifier(index_name), sql.Identifier(table))
        stmt = stmt.as_string(conn) + spec
        log("  " + stmt)
        if poller:
            poller.start()
        t0 = time.perf_counter()
        try:
            cur.execute(stmt)
        finally:
            seconds = time.perf_counter() - t0
            if poller:
                poller.stop()
    return seconds


def relation_bytes(conn, name, total=False):
    fn = "pg_total_relation_size" if total else "pg_relation_size"
    with conn.cursor() as cur:
        cur.execute("SELECT %s(%%s::regclass)" % fn, (name,))
        return cur.fetchone()[0]


# The name of the index the prepared query's plan scans, or None (seq scan).
def plan_index(conn, statement):
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + statement)
        plan = cur.fetchone()[0]
    stack = [plan[0]["Plan"]] if isinstance(plan, list) else [plan["Plan"]]
    while stack:
        node = stack.pop()
        if "Index Name" in node:
            return node["Index Name"]
        stack.extend(node.get("Plans", []))
    return None


# CPU seconds (user + system) the server process `pid` has used, or None
# when it is not readable here (a server on another host).
def backend_cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


# Runs the statements one by one (after `warmup` untimed ones); returns the ids
# found per query and per-query latencies in seconds, plus the total wall time.
# The loop's CPU seconds (the backend's and this client thread's) go into
# `cpu` when given: on a machine other work shares, queries / CPU seconds
# estimates one client's QPS on an idle machine better than the wall clock.
def run_queries(conn, statements, warmup=0, cpu=None):
    pid = backend_pid(conn) if cpu is not None else None
    with conn.cursor() as cur:
        for st in statements[:warmup]:
            cur.execute(st)
            cur.fetchall()
        found = []
        lat = np.empty(len(statements))
        clock = time.perf_counter
        b0, c0 = (backend_cpu_seconds(pid), time.thread_time()) if pid else (None, None)
        t_start = clock()
        for i, st in enumerate(statements):
            t0 = clock()
            cur.execute(st)
            rows = cur.fetchall()
            lat[i] = clock() - t0
            found.append([r[0] for r in rows])
        wall = clock() - t_start
        if pid:
            b1 = backend_cpu_seconds(pid)
            if b0 is not None and b1 is not None:
                cpu["cpu_s"] = (b1 - b0) + (time.thread_time() - c0)
    return found, lat, wall


# Throughput of `clients` connections that each run the same prepared query
# loop at once (connect() opens a connection already set up and prepared):
# the goal is that a second client adds a second core's worth of queries.
# psycopg2 releases the GIL while it waits for the server, so threads suffice.
# Returns the first client's ids, every latency, the wall time from the
# common start to the last client's end, and the CPU seconds of all (None
# when not readable): CPU per query that grows with clients shows contention
# even where other work hides the wall-clock gain.
def run_concurrent(connect, statements, clients, warmup=0):
    conns = [connect() for _ in range(clients)]
    results = [None] * clients
    cpus = [{} for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def worker(i):
        with conns[i].cursor() as cur:
            for st in statements[:warmup]:
                cur.execute(st)
                cur.fetchall()
        start.wait()
        results[i] = run_queries(conns[i], statements, cpu=cpus[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    if any(r is None for r in results):
        raise RuntimeError("a client of the concurrent run failed (see its traceback above)")
    cpu_s = sum(c["cpu_s"] for c in cpus) if all("cpu_s" in c for c in cpus) else None
    return results[0][0], np.concatenate([r[1] for r in results]), wall, cpu_s


# QPS and latency percentiles (milliseconds) from run_queries' timings, and
# queries per CPU second when the CPU time was measured.
def timing_stats(lat, wall, cpu_s=None):
    return {
        "qps": len(lat) / wall if wall > 0 else 0.0,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "mean_ms": float(lat.mean() * 1e3),
        "cpu_qps": len(lat) / cpu_s if cpu_s else None,
    }


# Values of the server settings that shape the numbers, for the record.
def server_settings(conn, extra=()):
    names = ["server_version", "shared_buffers", "work_mem", "maintenance_work_mem",
             "max_parallel_maintenance_workers", "max_parallel_workers_per_gather", "jit"]
    names += [n for n in extra if n not in names]
    out = {}
    with conn.cursor() as cur:
        for n in names:
            try:
                cur.execute(sql.SQL("SHOW {}").format(sql.SQL(n)))
                out[n] = cur.fetchone()[0]
            except psycopg2.Error:  # a knob of an extension not loaded yet
                if not conn.autocommit:
                    conn.rollback()
    return out
