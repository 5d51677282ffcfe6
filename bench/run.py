#!/usr/bin/python3
"""pg_ivf benchmark harness: recall@10 against QPS, latency, build time and
index size for vector indexes in PostgreSQL, beside FAISS in process and
the exact sequential scan. See bench/README.md for the commands.

Run with Debian's interpreter: /usr/bin/python3 bench/run.py --help
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import time

# FAISS threads with OpenMP; OpenBLAS's own thread pool on top of it
# oversubscribes the cores (IVF-PQ training ran 7x slower with both).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psycopg2  # noqa: E402

import datasets  # noqa: E402
import faissref  # noqa: E402
import pgload  # noqa: E402
import pgquery  # noqa: E402
import report  # noqa: E402
import truth  # noqa: E402

QUICK_BASE = 20_000
QUICK_QUERIES = 100
QUICK_SEQSCAN = 10


def log(msg):
    print(msg, flush=True)


def int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", required=True, help="fashion-mnist | synth-1m-128 | synth-5m-128 | table | npy")
    g.add_argument("--table", help="dataset table: the user's table (schema.name allowed)")
    g.add_argument("--column", help="dataset table: its vector column")
    g.add_argument("--source-dsn", help="dataset table: libpq string of the database holding it "
                   "(default: the benchmark server's database --source-db)")
    g.add_argument("--source-db", help="dataset table: database holding the table (default: --dbname)")
    g.add_argument("--base-file", help="dataset npy: base vectors, n x d")
    g.add_argument("--query-file", help="dataset npy: query vectors, m x d")
    g.add_argument("--name", help="dataset npy: a name for the results")
    g.add_argument("--holdout", type=int, default=1000, help="dataset table: rows held out as queries")
    g.add_argument("--base-limit", type=int, help="use only the first N base rows")
    g.add_argument("--queries", type=int, default=1000, help="queries per setting (default 1000)")
    g.add_argument("--seqscan", type=int, default=200, help="queries for the exact seq scan (0 skips)")
    g.add_argument("--quick", action="store_true", help="smoke test: %d base rows, %d queries, %d seq scan"
                   % (QUICK_BASE, QUICK_QUERIES, QUICK_SEQSCAN))

    g = p.add_argument_group("indexes")
    g.add_argument("--ivf", help="pg_ivf quantizers to run, e.g. sq8,flat,pq56 (default: sq8, flat and "
                   "the data set's pq_m values; 'none' for none)")
    g.add_argument("--metric", default="l2",
                   help="distances, comma-separated, measured side by side in one run: l2 (<->), ip (<#>, "
                   "inner product on the raw rows), cosine (<=>); each gets its pg_ivf indexes (its operator "
                   "class), FAISS reference, exact scan and ground truth (default l2)")
    g.add_argument("--lists", type=int, help="lists / nlist (default: the data set's preset, scaled "
                   "to --base-limit; rows/1000 for your own data)")
    g.add_argument("--probes", type=int_list, help="ivf.probes / nprobe values, e.g. 1,2,4,8")
    g.add_argument("--index", action="append", default=[], help="any index spec, e.g. "
                   "\"USING hnsw (v vector_l2_ops) WITH (m = 16)\" (repeatable)")
    g.add_argument("--knob", action="append", default=[], help="its search GUC, e.g. hnsw.ef_search")
    g.add_argument("--values", action="append", default=[], type=int_list, help="the knob's values")
    g.add_argument("--label", action="append", default=[], help="a name for the index in the results")
    g.add_argument("--faiss", dest="faiss", action="store_true", default=True)
    g.add_argument("--no-faiss", dest="faiss", action="store_false", help="skip the FAISS reference")
    g.add_argument("--faiss-only", action="store_true", help="only the FAISS reference (no server)")
    g.add_argument("--faiss-pq", action="store_true",
                   help="with --quick, keep FAISS IVF-PQ (its training takes a minute or more)")

    g = p.add_argument_group("server")
    g.add_argument("--dsn", help="libpq connection string (default: PG* variables, else the `make demo` cluster)")
    g.add_argument("--dbname", default="pg_ivf_bench", help="database to use, created if missing")
    g.add_argument("--extension", default="pg_ivf", help="extensions to create, comma-separated: the one "
                   "providing `vector` first, e.g. vector,pg_ivf_pgvector ('' for none)")
    g.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="session setting for builds and queries (repeatable)")
    g.add_argument("--maintenance-work-mem", default="1GB")
    g.add_argument("--parallel-workers", type=int, default=0,
                   help="max_parallel_workers_per_gather for queries (default 0: one core)")
    g.add_argument("--warmup", type=int, default=50, help="untimed queries before each setting")
    g.add_argument("--clients", type=int_list, default=[1],
                   help="also measure throughput with these many connections at once, e.g. 1,2")
    g.add_argument("--reload", action="store_true", help="reload the table even if it holds the data")
    g.add_argument("--keep-index", action="store_true", help="leave the last index built in place")
    g.add_argument("--no-progress", action="store_true", help="do not show CREATE INDEX progress")

    g = p.add_argument_group("output")
    g.add_argument("--out", help="output dir (default bench/results/<dataset>[-quick])")
    g.add_argument("--fresh", action="store_true", help="discard earlier results in the output dir")
    g.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads for ground truth and FAISS builds (queries use one)")
    a = p.parse_args(argv)
    if a.quick:
        a.base_limit = a.base_limit or QUICK_BASE
        a.queries = min(a.queries, QUICK_QUERIES)
        a.seqscan = min(a.seqscan, QUICK_SEQSCAN)
    a.metrics = [m.strip() for m in a.metric.split(",") if m.strip()]
    if not a.metrics or any(m not in ("l2", "ip", "cosine") for m in a.metrics):
        p.error("--metric takes l2, ip and cosine")
    if a.index and (len(a.knob) not in (1, len(a.index)) or len(a.values) not in (1, len(a.index))):
        p.error("give --knob and --values once, or once per --index")
    return a


def load_dataset(a):
    if a.dataset == "fashion-mnist":
        return datasets.load_fashion_mnist()
    if a.dataset in datasets.SYNTH_SIZES:
        log("%s: generating (or reading the cache of) %d + 10,000 rows" % (
            a.dataset, datasets.SYNTH_SIZES[a.dataset]))
        return datasets.load_synth(a.dataset)
    if a.dataset == "npy":
        if not a.base_file or not a.query_file:
            raise SystemExit("--dataset npy needs --base-file and --query-file")
        return datasets.load_npy(a.base_file, a.query_file, a.name)
    if a.dataset == "table":
        if not a.table or not a.column:
            raise SystemExit("--dataset table needs --table and --column")
        dsn = a.source_dsn if a.source_dsn is not None else pgload.base_dsn(a.dsn)
        conn = pgload.connect(dsn, None if a.source_dsn else (a.source_db or a.dbname))
        rows = pgload.read_vectors(conn, a.table, a.column, log)
        conn.close()
        base, queries = datasets.hold_out(rows, a.holdout)
        return datasets.Dataset(datasets.table_dataset_name(a.table, a.column), base, queries,
                                "%s.%s, %d rows held out as queries" % (a.table, a.column, a.holdout))
    raise SystemExit("unknown dataset %r" % a.dataset)


# How results of a metric other than l2 are labelled.
def metric_suffix(metric):
    return "" if metric == "l2" else " " + metric


# The pg_ivf index specs, their FAISS twins, and the user's own specs.
def plan_specs(a, ds, preset):
    n = len(ds.base)
    lists = a.lists
    if not lists:
        if preset:  # the preset's lists, scaled down with --base-limit
            lists = max(1, round(preset["lists"] * n / preset.get("n_full", n)))
        else:
            lists = max(1, n // 1000)
    probes = a.probes or (preset["probes"] if preset else [1, 2, 4, 8, 16, 32])
    if a.ivf:
        kinds = [] if a.ivf == "none" else [k.strip() for k in a.ivf.split(",") if k.strip()]
    elif a.index or "ivf" not in a.extension:
        kinds = []
    else:
        kinds = ["sq8", "flat"] + ["pq%d" % m for m in (preset["pq_m"] if preset else [])]
    specs, refs = [], []
    for metric in a.metrics:
        for k in kinds:
            if k in ("sq8", "flat"):
                opts, m = "lists = %d, quantizer = '%s'" % (lists, k), None
            elif k.startswith("pq") and k[2:].isdigit():
                m = int(k[2:])
                opts = "lists = %d, quantizer = 'pq', pq_m = %d" % (lists, m)
            else:
                raise SystemExit("unknown --ivf quantizer %r (sq8, flat or pqM)" % k)
            specs.append({"label": "pg_ivf %s%s" % (k, metric_suffix(metric)), "metric": metric,
                          "spec": "USING ivf (v vector_%s_ops) WITH (%s)" % (metric, opts),
                          "knob": "ivf.probes", "values": probes})
            refs.append(("pq" if m else k, m, metric))
    for i, spec in enumerate(a.index):
        knob = a.knob[i] if len(a.knob) > 1 else a.knob[0]
        values = a.values[i] if len(a.values) > 1 else a.values[0]
        label = a.label[i] if i < len(a.label) else "%s %s" % (a.extension or "pg", spec)
        specs.append({"label": label, "spec": spec, "knob": knob, "values": values, "metric": a.metrics[0]})
    return lists, probes, specs, refs


# The exact scan's series is named after the extension whose `vector` type
# (and so storage and distance code) it measures: a pgvector run and a pg_ivf
# run into one directory keep both.
def exact_label(extension, metric):
    exts = pgload.extension_list(extension)
    owner = "pgvector" if "vector" in exts else (exts[0] if exts else "server")
    return "seqscan (exact, %s)%s" % (owner, metric_suffix(metric))


def host_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "host": platform.node()}


# The exact sequential scan, then every index spec and knob value.
def run_postgres(a, ds, truths, specs, common):
    dsn = pgload.base_dsn(a.dsn)
    conn = pgload.prepare_database(dsn, a.dbname, a.extension)

    def connect():
        return pgload.connect(dsn, a.dbname)

    table = pgload.table_name(ds.name, len(ds.base))
    table_bytes = pgload.load_table(conn, table, ds, reload=a.reload, log=log)
    settings = [("maintenance_work_mem", a.maintenance_work_mem), ("jit", "off"),
                ("max_parallel_workers_per_gather", a.parallel_workers)]
    settings += [tuple(s.split("=", 1)) for s in a.set]
    pgquery.apply_settings(conn, settings)
    knobs = sorted({s["knob"] for s in specs})
    server = pgquery.server_settings(conn, knobs)
    base = dict(common, table_bytes=table_bytes, server=server, session_settings=dict(settings),
                extension=a.extension, engine="postgres", clients=1)
    statements = pgquery.execute_statements(ds.queries)

    for metric in a.metrics if a.seqscan > 0 else []:
        truth_ids, truth_dist = truths[metric]
        log("exact sequential scan%s, %d queries" % (metric_suffix(metric), min(a.seqscan, len(statements))))
        pgquery.apply_settings(conn, [("enable_indexscan", "off"), ("enable_bitmapscan", "off")])
        pgquery.prepare_knn(conn, table, metric=metric)
        sts = statements[:a.seqscan]
        cpu = {}
        found, lat, wall = pgquery.run_queries(conn, sts, warmup=min(3, len(sts)), cpu=cpu)
        rec = dict(base, system=exact_label(a.extension, metric), knob=None, value=None,
                   n_queries=len(sts), metric=metric,
                   recall_at_10=truth.recall_at(found, truth_ids),
                   recall_at_10_ties=truth.recall_at_ties(found, ds.base, ds.queries, truth_dist, metric=metric),
                   uses_index=None, index_spec=None)
        rec.update(pgquery.timing_stats(lat, wall, cpu.get("cpu_s")))
        report.append(a.out, rec)
        log("  recall@10 %.4f  %.1f QPS  p50 %.1f ms" % (rec["recall_at_10"], rec["qps"], rec["p50_ms"]))
        pgquery.apply_settings(conn, [("enable_indexscan", "on"), ("enable_bitmapscan", "on")])

    sts = statements[:a.queries]
    for n, spec in enumerate(specs):
        index_name = table + "_bench_idx"
        try:
            measure_spec(a, conn, connect, table, index_name, spec, sts, ds, *truths[spec["metric"]], base)
        except psycopg2.Error as e:  # one failing index must not stop the others
            log("  FAILED: %s" % (e.pgerror or e).strip())
        if not (a.keep_index and n == len(specs) - 1):
            with conn.cursor() as cur:
                cur.execute('DROP INDEX IF EXISTS "%s"' % index_name)
    conn.close()


# Builds one index spec and measures every value of its knob.
def measure_spec(a, conn, connect, table, index_name, spec, sts, ds, truth_ids, truth_dist, base):
    log("%s: building" % spec["label"])
    build_s = pgquery.build_index(conn, connect, table, index_name, spec["spec"], log=log,
                                  show_progress=not a.no_progress)
    index_bytes = pgquery.relation_bytes(conn, index_name)
    log("  built in %.2f s, index %.1f MiB (table %.1f MiB)" % (
        build_s, index_bytes / 2**20, base["table_bytes"] / 2**20))
    metric = spec["metric"]
    pgquery.prepare_knn(conn, table, metric=metric)
    for v in spec["values"]:
        pgquery.apply_settings(conn, [(spec["knob"], v)])
        used = pgquery.plan_index(conn, sts[0])
        cpu = {}
        found, lat, wall = pgquery.run_queries(conn, sts, warmup=min(a.warmup, len(sts)), cpu=cpu)
        if used == index_name:  # a generic plan may differ from the first custom one
            used = pgquery.plan_index(conn, sts[-1])
        rec = dict(base, system=spec["label"], knob=spec["knob"], value=v, n_queries=len(sts), metric=metric,
                   index_spec=spec["spec"], build_s=build_s, index_bytes=index_bytes,
                   uses_index=used == index_name,
                   recall_at_10=truth.recall_at(found, truth_ids),
                   recall_at_10_ties=truth.recall_at_ties(found, ds.base, ds.queries, truth_dist,
                                                          metric=metric))
        rec.update(pgquery.timing_stats(lat, wall, cpu.get("cpu_s")))
        report.append(a.out, rec)
        log("  %s = %-5s recall@10 %.4f  %8.1f QPS  %8.1f per CPU s  p50 %.3f ms  p99 %.3f ms%s" % (
            spec["knob"], v, rec["recall_at_10"], rec["qps"], rec["cpu_qps"] or 0, rec["p50_ms"], rec["p99_ms"],
            "" if rec["uses_index"] else "  (PLAN DID NOT USE THE INDEX: %s)" % used))
        for clients in (c for c in a.clients if c > 1):
            measure_clients(a, connect, table, spec, v, clients, sts, truth_ids, rec)


# The same prepared query loop from `clients` connections at once; the record
# is its own series ("<label>, N clients") whose QPS is the total throughput.
def measure_clients(a, connect, table, spec, value, clients, sts, truth_ids, one):
    def prepared():
        c = connect()
        pgquery.apply_settings(c, list(one["session_settings"].items()) + [(spec["knob"], value)])
        pgquery.prepare_knn(c, table, metric=spec["metric"])
        return c
    found, lat, wall, cpu_s = pgquery.run_concurrent(prepared, sts, clients, warmup=min(a.warmup, len(sts)))
    rec = dict(one, system="%s, %d clients" % (spec["label"], clients), clients=clients,
               base_system=spec["label"], n_queries=len(sts) * clients,
               recall_at_10=truth.recall_at(found, truth_ids), recall_at_10_ties=None)
    rec.update(pgquery.timing_stats(lat, wall, cpu_s))
    report.append(a.out, rec)
    log("  %s = %-5s %d clients: %8.1f QPS in all (%.2f x one client)  p50 %.3f ms" % (
        spec["knob"], value, clients, rec["qps"], rec["qps"] / one["qps"], rec["p50_ms"]))


def run_faiss(a, ds, truths, lists, probes, refs, common):
    sub = ds.subset(n_queries=a.queries)
    for kind, m, metric in refs:
        truth_ids, truth_dist = truths[metric]
        index, build_s, size = faissref.build(ds, kind, lists, m, threads=a.threads, log=log, metric=metric)
        _, label = faissref.describe(kind, lists, m)
        label += metric_suffix(metric)
        for r in faissref.measure(index, sub, truth_ids[:a.queries], truth_dist[:a.queries], probes,
                                  warmup=min(a.warmup, len(sub.queries)), metric=metric):
            rec = dict(common, engine="faiss", system=label, knob="nprobe", n_queries=len(sub.queries), metric=metric,
                       build_s=build_s, index_bytes=size, uses_index=None,
                       index_spec=faissref.describe(kind, lists, m)[0], faiss_build_threads=a.threads)
            rec.update(r)
            report.append(a.out, rec)
            log("  nprobe = %-5d recall@10 %.4f  %8.1f QPS  p50 %.3f ms" % (
                r["value"], r["recall_at_10"], r["qps"], r["p50_ms"]))
        del index


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    ds = load_dataset(a)
    preset = datasets.PRESETS.get(a.dataset)
    if preset:
        preset = dict(preset, n_full=len(ds.base))
    n_q = max(a.queries, a.seqscan)
    ds = ds.subset(n_base=a.base_limit, n_queries=n_q)
    if len(ds.queries) < a.queries:
        a.queries = len(ds.queries)
    lists, probes, specs, refs = plan_specs(a, ds, preset)
    a.out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                  ds.name + "".join("-" + m for m in a.metrics if m != "l2") +
                                  ("-quick" if a.quick else ""))
    if a.fresh and os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out, exist_ok=True)
    log("%s: %d base rows, %d queries, %d dims; lists %d; output %s" % (
        ds.name, len(ds.base), len(ds.queries), ds.dim, lists, a.out))

    t0 = time.time()
    truths = {m: truth.ground_truth(ds, threads=a.threads, log=log, metric=m) for m in a.metrics}
    log("ground truth ready (%.1f s)" % (time.time() - t0))
    common = {"run": datetime.datetime.now().isoformat(timespec="seconds"), "dataset": ds.name,
              "dataset_note": ds.note, "n_base": len(ds.base), "dim": ds.dim, "lists": lists,
              "host": host_info()}

    if not a.faiss_only:
        run_postgres(a, ds, truths, specs, common)
    if a.quick and not a.faiss_pq and any(r[0] == "pq" for r in refs):
        log("--quick: skipping FAISS IVF-PQ, whose training is slow (--faiss-pq keeps it)")
        refs = [r for r in refs if r[0] != "pq"]
    if a.faiss and refs:
        import faiss
        log("FAISS %s in process, nlist %d (build: %d threads, queries: 1 thread)" % (
            faiss.__version__, lists, a.threads))
        run_faiss(a, ds, truths, lists, probes, refs, common)
    md = report.render(a.out)
    log("")
    log(md)
    log("results: %s/results.jsonl, %s/results.md, %s/recall_qps.png" % (a.out, a.out, a.out))


if __name__ == "__main__":
    main()
