#!/usr/bin/python3
"""The Python half of `make demo` (scripts/demo.sh starts the cluster):
loads Fashion-MNIST, builds an ivf sq8 index with its progress shown, and
prints recall@10 and latency per ivf.probes against the exact answer,
with build time and index size beside the table's size.

Connects through the PG* variables demo.sh exports (or its state file).
"""

import argparse
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # FAISS threads with OpenMP instead
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
import pgload  # noqa: E402
import pgquery  # noqa: E402
import truth  # noqa: E402

TABLE = "fashion_mnist"
QUERY_TABLE = "fashion_mnist_queries"
INDEX = "fashion_mnist_ivf_sq8"
MIB = 2 ** 20


def log(msg):
    print(msg, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dbname", default="postgres")
    p.add_argument("--lists", type=int, default=245)
    p.add_argument("--quantizer", default="sq8")
    p.add_argument("--probes", default="1,2,4,8,16,32")
    p.add_argument("--queries", type=int, default=1000, help="timed queries per probes value")
    p.add_argument("--seqscan", type=int, default=20, help="queries for the exact seq scan")
    p.add_argument("--base-limit", type=int, help="load only the first N rows (smoke tests)")
    return p.parse_args()


# Loads the held-out queries too, so a user can try them from psql.
def load_queries(conn, ds):
    qds = datasets.Dataset(ds.name + "-queries", ds.queries, ds.queries[:1])
    pgload.load_table(conn, QUERY_TABLE, qds, log=lambda m: None)


def main():
    a = parse_args()
    probes = [int(x) for x in a.probes.split(",")]
    full = datasets.load_fashion_mnist()
    ds = full.subset(n_base=a.base_limit)
    nq = max(a.queries, a.seqscan)
    qds = ds.subset(n_queries=nq)
    log("Fashion-MNIST: %d base rows (train), %d queries (t10k), %d dims, L2" % (
        len(ds.base), len(ds.queries), ds.dim))
    truth_ids, truth_dist = truth.ground_truth(qds, log=log)

    dsn = pgload.base_dsn(None)
    conn = pgload.prepare_database(dsn, a.dbname, "pg_ivf")
    table_bytes = pgload.load_table(conn, TABLE, ds, log=log)
    load_queries(conn, ds)
    pgquery.apply_settings(conn, [("jit", "off"), ("max_parallel_workers_per_gather", 0),
                                  ("maintenance_work_mem", "1GB")])
    statements = pgquery.execute_statements(qds.queries)

    log("\nexact answer by sequential scan (%d queries)" % a.seqscan)
    pgquery.apply_settings(conn, [("enable_indexscan", "off")])
    pgquery.prepare_knn(conn, TABLE)
    found, lat, wall = pgquery.run_queries(conn, statements[:a.seqscan], warmup=2)
    seq = pgquery.timing_stats(lat, wall)
    seq["recall"] = truth.recall_at(found, truth_ids)
    log("  recall@10 %.4f, p50 %.1f ms per query" % (seq["recall"], seq["p50_ms"]))
    pgquery.apply_settings(conn, [("enable_indexscan", "on")])

    spec = "USING ivf (v vector_l2_ops) WITH (lists = %d, quantizer = '%s')" % (a.lists, a.quantizer)
    log("\nbuilding the index (progress from pg_stat_progress_create_index)")
    build_s = pgquery.build_index(conn, lambda: pgload.connect(dsn, a.dbname), TABLE, INDEX, spec, log=log)
    index_bytes = pgquery.relation_bytes(conn, INDEX)
    log("  done in %.2f s" % build_s)

    log("\nk-NN queries: SELECT id FROM %s ORDER BY v <-> $1 LIMIT 10 (prepared, one client)" % TABLE)
    pgquery.prepare_knn(conn, TABLE)
    sts = statements[:a.queries]
    rows = []
    for p in probes:
        pgquery.apply_settings(conn, [("ivf.probes", p)])
        used = pgquery.plan_index(conn, sts[0])
        found, lat, wall = pgquery.run_queries(conn, sts, warmup=min(50, len(sts)))
        st = pgquery.timing_stats(lat, wall)
        rows.append((p, truth.recall_at(found, truth_ids), st, used == INDEX))
        log("  ivf.probes = %-3d recall@10 %.4f, %.0f QPS" % (p, rows[-1][1], st["qps"]))

    log("")
    log("| ivf.probes | recall@10 |    QPS | p50 ms | p99 ms |")
    log("|-----------:|----------:|-------:|-------:|-------:|")
    for p, r, st, used in rows:
        log("| %10d | %9.4f | %6.0f | %6.3f | %6.3f |%s" % (
            p, r, st["qps"], st["p50_ms"], st["p99_ms"], "" if used else "  (plan did not use the index!)"))
    log("| exact scan | %9.4f | %6.1f | %6.1f | %6.1f |" % (
        seq["recall"], seq["qps"], seq["p50_ms"], seq["p99_ms"]))
    log("")
    log("recall@10 over %d queries against the exact top-10; exact scan over %d queries" % (
        len(sts), a.seqscan))
    log("index %s (%s): built in %.2f s, %.1f MiB; table %s: %.1f MiB (%.1f%% of it)" % (
        INDEX, a.quantizer, build_s, index_bytes / MIB, TABLE, table_bytes / MIB,
        100.0 * index_bytes / table_bytes))
    conn.close()


if __name__ == "__main__":
    main()
