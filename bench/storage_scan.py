"""Exact seq-scan top-10 over Fashion-MNIST under the vector storage layouts, in one run.

Usage: /usr/bin/python3 bench/storage_scan.py HOST PORT DBNAME   (a database with pg_ivf;
creates and leaves tables fm_*). Numbers: docs/ARCHITECTURE.md, "Storage choice".
"""
import sys, time, io, statistics
sys.path.insert(0, __import__("os").path.dirname(__file__))
import datasets, psycopg2
host, port, dbname = sys.argv[1], sys.argv[2], sys.argv[3]
ds = datasets.load_fashion_mnist()
base, queries = ds.base, ds.queries[:20]
conn = psycopg2.connect(host=host, port=port, user="postgres", dbname=dbname)
conn.autocommit = True
cur = conn.cursor()
cur.execute("DROP TABLE IF EXISTS fm_src, fm_plain, fm_new, fm_ext, fm_main")
cur.execute("SET ivf.inline_storage = off")
cur.execute("CREATE TABLE fm_src (id int, v vector(784))")
buf = io.StringIO()
for i, row in enumerate(base):
    buf.write("%d\t[%s]\n" % (i, ",".join("%g" % x for x in row)))
buf.seek(0)
cur.copy_expert("COPY fm_src FROM STDIN", buf)
layouts = [
    ("fm_plain", "0.1.0: column STORAGE plain", "ALTER TABLE fm_plain ALTER COLUMN v SET STORAGE plain"),
    ("fm_new", "0.2.0: type external + trigger's toast_tuple_target", None),
    ("fm_ext", "external, default target (pgvector's layout)", None),
    ("fm_main", "main, default target (pglz)", "ALTER TABLE fm_main ALTER COLUMN v SET STORAGE main"),
]
for name, _, alter in layouts:
    cur.execute("RESET ivf.inline_storage" if name == "fm_new" else "SET ivf.inline_storage = off")
    cur.execute("CREATE TABLE %s (id int, v vector(784))" % name)
    if alter:
        cur.execute(alter)
    cur.execute("INSERT INTO %s SELECT * FROM fm_src" % name)
    cur.execute("VACUUM ANALYZE %s" % name)
cur.execute("SET max_parallel_workers_per_gather = 0")
print("| layout | reloptions | table+toast MB | seq scan top-10 ms (median of %d) |" % len(queries))
print("|---|---|---|---|")
for name, label, _ in layouts:
    cur.execute("SELECT reloptions, pg_total_relation_size('%s') FROM pg_class WHERE relname = '%s'" % (name, name))
    opts, size = cur.fetchone()
    sql = "SELECT id FROM %s ORDER BY v <-> %%s::vector LIMIT 10" % name
    qs = ["[%s]" % ",".join("%g" % x for x in q) for q in queries]
    for q in qs[:3]:
        cur.execute(sql, (q,)); cur.fetchall()
    times = []
    for q in qs:
        t = time.perf_counter(); cur.execute(sql, (q,)); cur.fetchall(); times.append((time.perf_counter() - t) * 1000)
    print("| %s | %s | %.0f | %.0f |" % (label, opts, size / 1e6, statistics.median(times)))
