#!/usr/bin/python3
"""Build-time A/B: the same CREATE INDEX on two (or more) running servers,
rounds interleaved (A, B, A, B, ...), each timed by the wall clock and by the
building backend's CPU time (/proc/PID/stat: every thread of the backend, so
the CPU seconds stay comparable on a shared machine where wall time does
not).  Each build reports a digest of its list sizes and, with --digest, of
its pages after the meta page (page LSNs masked), so two builds that should
give the same index can be seen to.  The servers must run on this machine
(the CPU time is read from /proc) and let a superuser read files
(pg_read_binary_file).

  /usr/bin/python3 bench/build_ab.py --server base='host=/tmp/a port=5433 user=postgres' \\
      --server new='host=/tmp/b port=5434 user=postgres' --dataset fashion-mnist \\
      --with "quantizer = sq8, lists = 245" --threads 1 --rounds 3 --digest

The data set's table is loaded into the database pg_ivf_bench of each server
when missing (as bench/run.py loads it).
"""

import argparse
import os
import time

import datasets
import pgload

DB = "pg_ivf_bench"


def backend_cpu(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_once(conn, table, args):
    with conn.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS build_ab_idx")
        cur.execute("SET maintenance_work_mem = %s", (args.maintenance_work_mem,))
        cur.execute("SET ivf.build_threads = %d" % args.threads)
        cur.execute("CHECKPOINT")
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        c0, t0 = backend_cpu(pid), time.time()
        cur.execute("CREATE INDEX build_ab_idx ON %s USING ivf (v %s) WITH (%s)" % (table, args.opclass, args.with_))
        wall, cpu = time.time() - t0, backend_cpu(pid) - c0
        cur.execute("SELECT md5(string_agg(list || ':' || rows, ',' ORDER BY list)) FROM ivf_list_sizes('build_ab_idx')")
        lists = cur.fetchone()[0][:8]
        try:   # a build before the recall calibration has no such column
            cur.execute("SELECT calibrated_recall FROM ivf_index_info('build_ab_idx')")
            calib = "%.4f" % cur.fetchone()[0]
        except Exception:
            calib = "-"
        pages = ""
        if args.digest:
            cur.execute("CHECKPOINT")
            cur.execute("SELECT pg_relation_filepath('build_ab_idx'), pg_relation_size('build_ab_idx')")
            path, size = cur.fetchone()
            blocks = min(size, 1 << 30) // 8192 - 1   # the first segment, past the meta page
            cur.execute("SELECT md5(string_agg(substring(f from b * 8192 + 9 for 8184), '' ORDER BY b)) "
                        "FROM (SELECT pg_read_binary_file(%s, 8192, %s) f) s, generate_series(0, %s - 1) b",
                        (path, blocks * 8192, blocks))
            pages = cur.fetchone()[0][:8]
        cur.execute("DROP INDEX build_ab_idx")
    return wall, cpu, lists, calib, pages


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", required=True, metavar="NAME=DSN",
                    help="a server to build on (repeat; two or more)")
    ap.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist | synth-1m-128 | synth-5m-128")
    ap.add_argument("--with", dest="with_", default="quantizer = sq8, lists = 245", help="the index's options")
    ap.add_argument("--opclass", default="vector_l2_ops")
    ap.add_argument("--threads", type=int, default=1, help="ivf.build_threads")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--maintenance-work-mem", default="1GB")
    ap.add_argument("--digest", action="store_true", help="also digest the index pages (reads the file)")
    args = ap.parse_args()

    ds = datasets.load_fashion_mnist() if args.dataset == "fashion-mnist" else datasets.load_synth(args.dataset)
    table = pgload.table_name(ds.name, len(ds.base))
    conns = {}
    for spec in args.server:
        name, dsn = spec.split("=", 1)
        pgload.prepare_database(dsn, DB, "pg_ivf")
        conns[name] = pgload.connect(dsn, DB)
        pgload.load_table(conns[name], table, ds, log=lambda m, n=name: print(n + ":", m, flush=True))

    results = {name: [] for name in conns}
    for r in range(args.rounds):
        for name, conn in conns.items():
            wall, cpu, lists, calib, pages = build_once(conn, table, args)
            results[name].append((wall, cpu))
            print("round %d %-6s wall %6.2f s  cpu %6.2f s  lists %s  calibrated %s%s  load %.1f"
                  % (r + 1, name, wall, cpu, lists, calib, "  pages " + pages if pages else "",
                     os.getloadavg()[0]),
                  flush=True)
    for name, v in results.items():
        print("%-6s wall %s s   cpu %s s" % (name, " / ".join("%.2f" % w for w, _ in v),
                                             " / ".join("%.2f" % c for _, c in v)))


if __name__ == "__main__":
    main()
