"""ivf.target_recall on a data set: for each target, the probes the index's
calibration chooses, the calibrated recall@10 there, ivf_recall() (rows of the
table as queries) and recall@10 of the data set's own queries against exact
neighbours (numpy), with the build time.

    /usr/bin/python3 bench/target_recall.py [--dataset fashion-mnist] [--lists 245]
        [--queries 1000] [--targets 0.9,0.95,0.99] [--dsn DSN]

Connects as pgload.base_dsn() does (PG* variables, else `make demo`'s cluster)."""

import argparse
import time

import numpy as np
from psycopg2 import sql

import datasets
import pgload


def exact_top10(base, queries):
    norms = (base.astype(np.float64) ** 2).sum(1)
    out = []
    for start in range(0, len(queries), 200):
        q = queries[start:start + 200].astype(np.float64)
        d = norms[None, :] - 2 * q @ base.T.astype(np.float64)
        out.append(np.argsort(d, axis=1)[:, :10])
    return np.vstack(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "synth"])
    ap.add_argument("--lists", type=int, default=245)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--targets", default="0.9,0.95,0.99")
    ap.add_argument("--dsn")
    args = ap.parse_args()

    load = {"fashion-mnist": datasets.load_fashion_mnist, "synth": datasets.load_synth}[args.dataset]
    ds = load().subset(n_queries=args.queries)
    dsn = pgload.base_dsn(args.dsn)
    conn = pgload.prepare_database(dsn, None, "pg_ivf")
    table = pgload.table_name(ds.name, len(ds.base))
    pgload.load_table(conn, table, ds)
    truth = exact_top10(ds.base, ds.queries)
    idx = table + "_target"
    with conn.cursor() as cur:
        cur.execute("SET max_parallel_maintenance_workers = 1")
        t0 = time.time()
        cur.execute(sql.SQL("CREATE INDEX {} ON {} USING ivf (v vector_l2_ops) WITH (lists = {})").format(
            sql.Identifier(idx), sql.Identifier(table), sql.Literal(args.lists)))
        print("%s: %d rows x %d, lists %d, CREATE INDEX %.2f s" % (ds.name, len(ds.base), ds.dim, args.lists,
                                                                     time.time() - t0))
        cur.execute("SELECT string_agg(probes || ':' || round(recall::numeric, 3), ' ') FROM ivf_recall_curve(%s)",
                    (idx,))
        print("calibrated curve (probes:recall@10):", cur.fetchone()[0])
        print("target  probes  calibrated  ivf_recall(100)  queries(%d)" % len(ds.queries))
        cur.execute("SET enable_seqscan = off")
        for target in [float(t) for t in args.targets.split(",")]:
            cur.execute("SET ivf.target_recall = %s", (target,))
            cur.execute("SELECT probes, calibrated_recall FROM ivf_index_info(%s)", (idx,))
            probes, calibrated = cur.fetchone()
            cur.execute("SELECT ivf_recall(%s)", (idx,))
            measured = cur.fetchone()[0]
            found = 0
            for i, q in enumerate(ds.queries):
                cur.execute(sql.SQL("SELECT id FROM {} ORDER BY v <-> %s::vector LIMIT 10").format(
                    sql.Identifier(table)), ("[" + ",".join("%g" % x for x in q) + "]",))
                found += len(set(r[0] for r in cur.fetchall()) & set(truth[i].tolist()))
            print("%6.2f  %6d  %10.4f  %15.4f  %11.4f" % (target, probes, calibrated, measured,
                                                           found / (10.0 * len(ds.queries))))
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(idx)))


if __name__ == "__main__":
    main()
