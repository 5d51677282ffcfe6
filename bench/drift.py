#!/usr/bin/python3
"""Issue 11's drift benchmark: an ivf index trained on half of the data's
clusters (one region), then as many rows again from the other half inserted
(new data in a new region), measured before and after VACUUM and ivf_maintain() (when the
server has it) against a fresh REINDEX.

  /usr/bin/python3 bench/drift.py                    # 200,000 rows, a few minutes here
  /usr/bin/python3 bench/drift.py --rows 1000000     # the issue's synth-1m-128 scale

Data: the synth-1m-128 recipe (datasets.generate_synth: 1,000 Gaussian
components in a 24-d latent space, 128 dims) with --rows base rows; the
components are split in two regions by the median along the main axis of
their means: rows of one region are loaded and indexed, then the other
region's rows are inserted. Queries are the recipe's query rows (every component).
`lists` is fixed (default rows / 1000, what the default rule gives the final
table), so REINDEX keeps it and only where the rows lie differs.

Per state: recall@10 at a fixed ivf.probes (all queries, and those of the
new region), QPS of one client, the rows a query scans estimated from
ivf_list_sizes (probes x sum(size^2) / rows: a query from the data lands in
a list with probability proportional to its size, so scans size-weighted
lists), shared buffers per query from EXPLAIN (ANALYZE, BUFFERS), codes
scanned when the server's EXPLAIN shows them, and ivf_index_info's
list_max_ratio and lists; plus the time of the INSERT, VACUUM, ivf_maintain and
REINDEX, and what VACUUM's maintenance did (its message: lists split, rows
re-assigned from the heap, rows kept in their lists). Writes
<out>/drift.md and drift.jsonl.
"""

import argparse
import datetime
import io
import json
import os
import re
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from psycopg2 import sql  # noqa: E402

import datasets  # noqa: E402
import pgload  # noqa: E402
import pgquery  # noqa: E402
import truth  # noqa: E402

COMPONENTS = 1000


def log(msg):
    print(msg, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000, help="rows at the end (half built, half inserted)")
    p.add_argument("--lists", type=int, help="lists (default rows / 1000)")
    p.add_argument("--probes", type=int, default=8, help="ivf.probes for every measurement (default 8)")
    p.add_argument("--queries", type=int, default=500, help="queries per state (default 500)")
    p.add_argument("--explain", type=int, default=50, help="queries run under EXPLAIN (ANALYZE, BUFFERS)")
    p.add_argument("--quantizer", default="sq8")
    p.add_argument("--dsn", help="libpq connection string (default as run.py)")
    p.add_argument("--dbname", default="pg_ivf_bench")
    p.add_argument("--extension", default="pg_ivf", help="e.g. vector,pg_ivf_pgvector")
    p.add_argument("--out", help="output dir (default bench/results/drift-<rows>)")
    a = p.parse_args(argv)
    a.lists = a.lists or max(1, a.rows // 1000)
    a.out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "drift-%d" % a.rows)
    return a


# Splits the components into two regions: those whose mean lies below the
# median along the main axis of the component means, and the rest. (Components
# split by number would interleave in space and not drift at all.)
def new_region(base, base_c):
    sums = np.zeros((COMPONENTS, base.shape[1]))
    np.add.at(sums, base_c, base.astype(np.float64))
    means = sums / np.maximum(1, np.bincount(base_c, minlength=COMPONENTS))[:, None]
    centered = means - means.mean(axis=0)
    axis = np.linalg.svd(centered, full_matrices=False)[2][0]
    proj = centered @ axis
    return proj > np.median(proj)


# The base rows ordered old region first, so ids 0..n_old-1 are the rows the
# index is built on; queries with a flag for the new region.
def make_data(a):
    base, queries, base_c, query_c = datasets.generate_synth(
        n_base=a.rows, n_queries=a.queries, comps=COMPONENTS, labels=True)
    new_comp = new_region(base, base_c)
    new = new_comp[base_c]
    rows = np.concatenate([base[~new], base[new]])
    return rows, int((~new).sum()), queries, new_comp[query_c]


def copy_rows(cur, table, rows, first_id):
    copy = sql.SQL("COPY {} (id, v) FROM STDIN (FORMAT binary)").format(sql.Identifier(table))
    copy = copy.as_string(cur.connection)
    for start in range(0, len(rows), pgload.COPY_ROWS):
        chunk = np.ascontiguousarray(rows[start:start + pgload.COPY_ROWS], dtype=np.float32)
        cur.copy_expert(copy, io.BytesIO(pgload.copy_binary(chunk, first_id + start)))


def timed(cur, statement, args=None):
    t0 = time.perf_counter()
    cur.execute(statement, args)
    return time.perf_counter() - t0


def index_info(cur, index):
    cur.execute("SELECT lists, rows, list_max, list_max_ratio, trained FROM ivf_index_info(%s::regclass)",
                (index,))
    lists, rows, list_max, ratio, trained = cur.fetchone()
    cur.execute("SELECT rows FROM ivf_list_sizes(%s::regclass)", (index,))
    sizes = np.array([r[0] for r in cur.fetchall()], dtype=np.float64)
    return {"lists": lists, "index_rows": rows, "list_max": list_max, "list_max_ratio": ratio,
            "trained": trained, "size_weighted_list": float((sizes ** 2).sum() / max(1.0, sizes.sum()))}


# Mean shared buffers of the plan and, when the server's EXPLAIN prints them,
# codes scanned (any "<n> codes" in the output) over the first n statements.
def explain_counts(cur, statements):
    buffers, codes = [], []
    for st in statements:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + st)
        text = "\n".join(r[0] for r in cur.fetchall())
        m = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", text)
        if m:
            buffers.append(int(m.group(1)) + int(m.group(2) or 0))
        m = re.search(r"([\d,]+) codes", text)
        if m:
            codes.append(int(m.group(1).replace(",", "")))
    return (float(np.mean(buffers)) if buffers else None, float(np.mean(codes)) if codes else None)


def measure(a, conn, table, index, state, statements, truth_ids, new_region, extra):
    pgquery.prepare_knn(conn, table)
    used = pgquery.plan_index(conn, statements[0])
    found, lat, wall = pgquery.run_queries(conn, statements, warmup=min(20, len(statements)))
    with conn.cursor() as cur:
        info = index_info(cur, index)
        buffers, codes = explain_counts(cur, statements[:a.explain])
    new_found = [f for f, n in zip(found, new_region) if n]
    rec = dict(extra, state=state, probes=a.probes, uses_index=used == index,
               recall_at_10=truth.recall_at(found, truth_ids),
               recall_new_region=truth.recall_at(new_found, truth_ids[new_region]),
               est_rows_scanned=a.probes * info["size_weighted_list"], buffers_per_query=buffers,
               codes_per_query=codes, **info)
    rec.update(pgquery.timing_stats(lat, wall))
    log("  %-22s recall@10 %.4f (new region %.4f)  est. rows scanned %8.0f  buffers/q %s  codes/q %s  "
        "list_max_ratio %.2f  %.0f QPS%s" % (
            state, rec["recall_at_10"], rec["recall_new_region"], rec["est_rows_scanned"],
            "—" if buffers is None else "%.0f" % buffers, "—" if codes is None else "%.0f" % codes,
            info["list_max_ratio"] or 0, rec["qps"], "" if rec["uses_index"] else "  (PLAN DID NOT USE THE INDEX)"))
    return rec


def render(a, recs, common):
    ref = recs[-1]
    lines = ["# Drift: %d rows (%d in the old region indexed, then %d of the new region inserted), 128 dims, "
             "lists %d, %s, probes %d, %d queries" % (
                 a.rows, common["n_old"], a.rows - common["n_old"], a.lists, a.quantizer, a.probes,
                 a.queries), "",
             "| state | seconds | lists | recall@10 | recall@10, new region | est. rows scanned/query | "
             "buffers/query | codes/query | list_max_ratio | QPS | recall vs REINDEX | rows vs REINDEX |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in recs:
        lines.append("| %s | %s | %d | %.4f | %.4f | %.0f | %s | %s | %.2f | %.0f | %.3f | %.2f |" % (
            r["state"], "—" if r.get("seconds") is None else "%.1f" % r["seconds"], r["lists"], r["recall_at_10"],
            r["recall_new_region"], r["est_rows_scanned"],
            "—" if r["buffers_per_query"] is None else "%.0f" % r["buffers_per_query"],
            "—" if r["codes_per_query"] is None else "%.0f" % r["codes_per_query"],
            r["list_max_ratio"] or 0, r["qps"], r["recall_at_10"] / ref["recall_at_10"],
            r["est_rows_scanned"] / ref["est_rows_scanned"]))
    lines += ["", "The first row is the old region's rows alone, against their own exact answer; the others hold every row. "
              "Goal (issue 11): after maintenance, recall and rows scanned within 10 % of the fresh REINDEX."]
    for r in recs:
        if r.get("maintenance"):
            lines.append("%s: %s" % (r["state"], r["maintenance"]))
    if not common["has_maintain"]:
        lines.append("ivf_maintain() does not exist in this server's pg_ivf: that state is not measured.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(a.out, exist_ok=True)
    log("drift: generating %d rows + %d queries (synth recipe)" % (a.rows, a.queries))
    rows, n_old, queries, new_region = make_data(a)
    truth_old = truth.exact_topk(rows[:n_old], queries, k=10)[0]
    truth_all = truth.exact_topk(rows, queries, k=10)[0]

    dsn = pgload.base_dsn(a.dsn)
    conn = pgload.prepare_database(dsn, a.dbname, a.extension)
    table, index = "drift_%d" % a.rows, "drift_%d_idx" % a.rows
    statements = pgquery.execute_statements(queries)
    common = {"run": datetime.datetime.now().isoformat(timespec="seconds"), "rows": a.rows, "n_old": n_old,
              "lists": a.lists, "quantizer": a.quantizer, "extension": a.extension}
    with conn.cursor() as cur:
        pgquery.apply_settings(conn, [("maintenance_work_mem", "1GB"), ("jit", "off"),
                                      ("max_parallel_workers_per_gather", 0), ("ivf.probes", a.probes)])
        cur.execute("SELECT count(*) > 0 FROM pg_proc WHERE proname = 'ivf_maintain'")
        common["has_maintain"] = cur.fetchone()[0]
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        # Autovacuum would run maintenance at a moment of its choosing; here it runs when measured.
        cur.execute(sql.SQL("CREATE TABLE {} (id int, v vector(128)) WITH (autovacuum_enabled = false)").format(
            sql.Identifier(table)))
        copy_rows(cur, table, rows[:n_old], 0)
        cur.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        build = timed(cur, sql.SQL("CREATE INDEX {} ON {} USING ivf (v vector_l2_ops) WITH (lists = {}, "
                                   "quantizer = {})").format(
            sql.Identifier(index), sql.Identifier(table), sql.Literal(a.lists), sql.Literal(a.quantizer)))
        log("built %s on the old region's %d rows in %.1f s (lists %d)" % (index, n_old, build, a.lists))
        recs = [dict(measure(a, conn, table, index, "built on the old region", statements, truth_old,
                             new_region, common), seconds=build)]

        t = time.perf_counter()
        copy_rows(cur, table, rows[n_old:], n_old)
        cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        ins = time.perf_counter() - t
        log("inserted the new region's %d rows in %.1f s" % (len(rows) - n_old, ins))
        recs.append(dict(measure(a, conn, table, index, "after the inserts", statements, truth_all,
                                 new_region, common), seconds=ins))

        # the maintenance says what it did (lists split, rows re-assigned and kept) at VACUUM's index
        # message level, DEBUG2 on PostgreSQL 15 even under VERBOSE
        del conn.notices[:]
        cur.execute("SET client_min_messages = debug2")
        vac = timed(cur, sql.SQL("VACUUM {}").format(sql.Identifier(table)))
        cur.execute("RESET client_min_messages")
        did = " ".join(m.strip().split("ivf index ", 1)[1] for m in conn.notices if "ivf index " in m)
        log("VACUUM's maintenance: %s" % (did or "none"))
        recs.append(dict(measure(a, conn, table, index, "after VACUUM", statements, truth_all, new_region,
                                 common), seconds=vac, maintenance=did))
        if common["has_maintain"]:
            t = time.perf_counter()
            cur.execute("SELECT ivf_maintain(%s::regclass)", (index,))
            did = cur.fetchone()[0]
            mnt = time.perf_counter() - t
            log("ivf_maintain: %s" % (did,))
            recs.append(dict(measure(a, conn, table, index, "after ivf_maintain()", statements, truth_all,
                                     new_region, common), seconds=mnt, maintenance=str(did)))
        else:
            log("ivf_maintain() does not exist in this server's pg_ivf: skipped")
        rdx = timed(cur, sql.SQL("REINDEX INDEX {}").format(sql.Identifier(index)))
        recs.append(dict(measure(a, conn, table, index, "fresh REINDEX", statements, truth_all, new_region,
                                 common), seconds=rdx))
    conn.close()
    with open(os.path.join(a.out, "drift.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    md = render(a, recs, common)
    with open(os.path.join(a.out, "drift.md"), "w") as f:
        f.write(md)
    log("\n" + md)
    log("results: %s/drift.md, drift.jsonl" % a.out)


if __name__ == "__main__":
    main()
