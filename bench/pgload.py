"""PostgreSQL side of the data: where to connect, the benchmark database and
extension, loading a data set with binary COPY, and reading a user's table.

The binary COPY form of `vector` (pgvector's, which pg_ivf shares) is
int16 dims, int16 unused, then dims big-endian float4s."""

import io
import os
import re
import time

import numpy as np
import psycopg2
from psycopg2 import sql

DEMO_STATE = os.environ.get("PG_IVF_DEMO_DIR", "/tmp/pg_ivf_demo") + "/state"
COPY_ROWS = 20_000
SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


# Connection settings: --dsn, else libpq's PG* variables, else the cluster
# that `make demo` left running (its state file), else libpq's defaults.
def base_dsn(dsn=None):
    if dsn:
        return dsn
    if any(os.environ.get(v) for v in ("PGHOST", "PGPORT", "PGSERVICE", "PGDATABASE")):
        return ""
    if os.path.exists(DEMO_STATE):
        state = {}
        with open(DEMO_STATE) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                state[k] = v
        if state.get("PGHOST") and state.get("PGPORT"):
            return "host=%s port=%s user=%s" % (state["PGHOST"], state["PGPORT"],
                                                state.get("PGUSER", "postgres"))
    return ""


def connect(dsn, dbname=None, autocommit=True):
    kw = {"dbname": dbname} if dbname else {}
    conn = psycopg2.connect(dsn, **kw)
    conn.autocommit = autocommit
    return conn


# Creates the database (when missing) and the extensions in it: one name,
# or several separated by commas (e.g. "vector,pg_ivf_pgvector").
def prepare_database(dsn, dbname, extension):
    if dbname:
        try:
            connect(dsn, dbname).close()
        except psycopg2.OperationalError as e:
            if "does not exist" not in str(e):
                raise
            admin = connect(dsn, "postgres")
            with admin.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            admin.close()
    conn = connect(dsn, dbname)
    with conn.cursor() as cur:
        for ext in extension_list(extension):
            cur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
    return conn


def extension_list(extension):
    return [e.strip() for e in (extension or "").split(",") if e.strip()]


# Whether the server can CREATE EXTENSION name (its control file is installed).
def extension_available(dsn, name):
    conn = connect(dsn, "postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,))
        ok = cur.fetchone() is not None
    conn.close()
    return ok


# A table name for a data set: letters, digits and _ only, with the row count.
def table_name(dataset_name, n_base):
    return "bench_%s_%d" % (re.sub(r"[^a-z0-9]+", "_", dataset_name.lower()).strip("_"), n_base)


# Binary COPY bytes for rows (n * d float32) numbered from first_id.
def copy_binary(rows, first_id):
    n, d = rows.shape
    dt = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                   ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (d,))])
    rec = np.empty(n, dtype=dt)
    rec["nf"], rec["l1"], rec["l2"], rec["dim"], rec["unused"] = 2, 4, 4 + 4 * d, d, 0
    rec["id"] = np.arange(first_id, first_id + n, dtype=np.int64)
    rec["v"] = rows
    return SIGNATURE + b"\x00" * 8 + rec.tobytes() + b"\xff\xff"


# Loads base rows as (id int, v vector(d)), id = row number, unless the table
# already holds this data (its comment records the data set's fingerprint).
# Returns the table's bytes with no index on it.
def load_table(conn, table, ds, reload=False, log=print):
    tag = "pg_ivf-bench %s n=%d d=%d fp=%s" % (ds.name, len(ds.base), ds.dim, ds.fingerprint())
    t = sql.Identifier(table)
    with conn.cursor() as cur:
        cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (table,))
        row = cur.fetchone()
        if row and row[0] == tag and not reload:
            drop_indexes(conn, table)
            log("table %s already holds %s (%d rows), reusing it" % (table, ds.name, len(ds.base)))
            cur.execute("SELECT pg_total_relation_size(%s::regclass)", (table,))
            return cur.fetchone()[0]
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t))
        cur.execute(sql.SQL("CREATE TABLE {} (id int, v vector({}))").format(t, sql.Literal(ds.dim)))
        t0 = time.time()
        copy = sql.SQL("COPY {} (id, v) FROM STDIN (FORMAT binary)").format(t).as_string(conn)
        for start in range(0, len(ds.base), COPY_ROWS):
            chunk = np.asarray(ds.base[start:start + COPY_ROWS], dtype=np.float32)
            cur.copy_expert(copy, io.BytesIO(copy_binary(chunk, start)))
        load_s = time.time() - t0
        cur.execute(sql.SQL("VACUUM (ANALYZE) {}").format(t))
        cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(t, sql.Literal(tag)))
        cur.execute("SELECT pg_total_relation_size(%s::regclass)", (table,))
        size = cur.fetchone()[0]
    log("loaded %d rows into %s in %.1f s (%.0f MiB)" % (len(ds.base), table, load_s, size / 2**20))
    return size


# Drops every index on the table (left over from an interrupted run).
def drop_indexes(conn, table):
    with conn.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                       WHERE i.indrelid = %s::regclass""", (table,))
        for (name,) in cur.fetchall():
            cur.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


# Reads every non-NULL vector of table.column as an n * d float32 array,
# by binary COPY (so any extension whose vector has pgvector's format works).
def read_vectors(conn, table, column, log=print):
    parts = [sql.Identifier(p) for p in table.split(".")]
    query = sql.SQL("COPY (SELECT {} FROM {} WHERE {} IS NOT NULL) TO STDOUT (FORMAT binary)").format(
        sql.Identifier(column), sql.SQL(".").join(parts), sql.Identifier(column))
    buf = io.BytesIO()
    t0 = time.time()
    with conn.cursor() as cur:
        cur.copy_expert(query.as_string(conn), buf)
    data = buf.getbuffer()
    if bytes(data[:11]) != SIGNATURE:
        raise SystemExit("unexpected COPY output from %s" % table)
    ext = int.from_bytes(data[15:19], "big")
    pos = 19 + ext
    body = data[pos:len(data) - 2]
    if len(body) == 0:
        raise SystemExit("%s.%s has no non-NULL vectors" % (table, column))
    d = int.from_bytes(body[6:8], "big")
    dt = np.dtype([("nf", ">i2"), ("len", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (d,))])
    if len(body) % dt.itemsize:
        raise SystemExit("%s.%s: vectors of different dimensions" % (table, column))
    rec = np.frombuffer(body, dtype=dt)
    if np.any(rec["dim"] != d) or np.any(rec["len"] != 4 + 4 * d):
        raise SystemExit("%s.%s: vectors of different dimensions" % (table, column))
    rows = rec["v"].astype(np.float32)
    log("read %d vectors of %d dims from %s.%s in %.1f s" % (len(rows), d, table, column, time.time() - t0))
    return rows
