"""Benchmark data sets: base vectors (n_base * d float32) and queries
(n_queries * d float32), generated or read once and cached as .npy files.

Data sets:
  fashion-mnist  Debian's dataset-fashion-mnist: 60,000 train images as base,
                 10,000 t10k images as queries, 784 dims (ann-benchmarks'
                 fashion-mnist-784-euclidean uses exactly these splits).
  synth-1m-128   the seeded Gaussian mixture of issue 5 (see generate_synth).
  synth-5m-128   the same recipe with 5,000,000 base rows (issue 13's scaling
                 goal): its first 1,000,000 base rows are synth-1m-128's, its
                 queries are drawn after the 5M rows, so they differ.
  table          rows of a user's table and column, with queries held out.
  npy            a user's own base and query .npy files.
"""

import gzip
import hashlib
import os
import struct

import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"

# Presets per named data set: L2 metric, the lists, probes and pq_m.
PRESETS = {
    "fashion-mnist": {"lists": 245, "probes": [1, 2, 4, 8, 16, 32], "pq_m": [56, 112]},
    "synth-1m-128": {"lists": 1000, "probes": [1, 2, 4, 8, 16, 32, 64, 128], "pq_m": [16, 32]},
    "synth-5m-128": {"lists": 2236, "probes": [1, 2, 4, 8, 16, 32, 64, 128], "pq_m": [16, 32]},
}

SYNTH_SEED = 1234
SYNTH_BLOCK = 100_000


class Dataset:
    """A data set in memory: base and queries, float32, C-contiguous."""

    def __init__(self, name, base, queries, note=""):
        self.name = name
        self.base = np.ascontiguousarray(base, dtype=np.float32)
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.note = note

    @property
    def dim(self):
        return self.base.shape[1]

    # A short digest of the base rows and the first queries: a cached table or
    # truth is reused only for the same contents (query prefixes share it).
    def fingerprint(self):
        h = hashlib.sha1()
        h.update(np.asarray(self.base.shape, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.base[:: max(1, len(self.base) // 997)]).tobytes())
        h.update(np.ascontiguousarray(self.base[-1]).tobytes())
        h.update(np.ascontiguousarray(self.queries[:10]).tobytes())
        return h.hexdigest()[:12]

    # First n_base base rows and first n_queries queries (None keeps all).
    def subset(self, n_base=None, n_queries=None):
        base = self.base if not n_base else self.base[:n_base]
        queries = self.queries if not n_queries else self.queries[:n_queries]
        if n_base and n_base < len(self.base):
            note = "first %d of %d base rows" % (n_base, len(self.base))
        else:
            note = self.note
        return Dataset(self.name, base, queries, note)


# The cache dir: $PG_IVF_BENCH_CACHE, else ~/.cache/pg_ivf-bench.
def cache_dir():
    d = os.environ.get("PG_IVF_BENCH_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "pg_ivf-bench")
    os.makedirs(d, exist_ok=True)
    return d


# Loads name.npy from the cache dir, or builds it with make() and saves it.
def _cached(sub, name, make):
    d = os.path.join(cache_dir(), sub)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".npy")
    if os.path.exists(path):
        return np.load(path)
    arr = make()
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)
    return arr


# Reads an IDX3 image file (gzip) as an n * (rows*cols) float32 array.
def read_idx3(path):
    with gzip.open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise ValueError("%s: not an idx3-ubyte file (magic %d)" % (path, magic))
        pixels = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8)
    if pixels.size != n * rows * cols:
        raise ValueError("%s: truncated" % path)
    return pixels.reshape(n, rows * cols).astype(np.float32)


def load_fashion_mnist():
    train = os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz")
    test = os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(train):
        raise SystemExit("%s not found: install the Debian package dataset-fashion-mnist "
                         "(scripts/install-bench-deps.sh)" % train)
    base = _cached("fashion-mnist", "base", lambda: read_idx3(train))
    queries = _cached("fashion-mnist", "queries", lambda: read_idx3(test))
    return Dataset("fashion-mnist", base, queries, "Fashion-MNIST train/t10k, uint8 pixels as float")


# Issue 5's recipe, block by block, so memory stays at one block of float64.
# Every draw comes from one default_rng(1234) stream in this order:
# P, mu, s, then per block of base rows and then per block of query rows:
# c, z's noise, x's noise.
# With labels=True it also returns each row's component (bench/drift.py splits
# the data by component).
def generate_synth(n_base=1_000_000, n_queries=10_000, d=128, latent=24, comps=1000,
                   seed=SYNTH_SEED, block=SYNTH_BLOCK, labels=False):
    rng = np.random.default_rng(seed)
    P, _ = np.linalg.qr(rng.normal(size=(d, latent)))
    mu = rng.normal(size=(comps, latent))
    s = 0.75 * rng.uniform(0.5, 1.5, comps)

    def rows(n):
        out = np.empty((n, d), dtype=np.float32)
        comp = np.empty(n, dtype=np.int32)
        for start in range(0, n, block):
            m = min(block, n - start)
            c = rng.integers(0, comps, m)
            z = mu[c] + s[c][:, None] * rng.normal(size=(m, latent))
            out[start:start + m] = z @ P.T + 0.1 * s[c][:, None] * rng.normal(size=(m, d))
            comp[start:start + m] = c
        return out, comp

    base, base_c = rows(n_base)
    queries, query_c = rows(n_queries)
    if labels:
        return base, queries, base_c, query_c
    return base, queries


SYNTH_SIZES = {"synth-1m-128": 1_000_000, "synth-5m-128": 5_000_000}


def load_synth(name="synth-1m-128"):
    parts = {}

    def make(which):
        if not parts:
            parts["base"], parts["queries"] = generate_synth(n_base=SYNTH_SIZES[name])
        return parts[which]

    base = _cached(name, "base", lambda: make("base"))
    queries = _cached(name, "queries", lambda: make("queries"))
    return Dataset(name, base, queries, "seeded Gaussian mixture (issue 5 recipe)")


def load_npy(base_path, query_path, name=None):
    base = np.load(base_path, mmap_mode="r")
    queries = np.load(query_path, mmap_mode="r")
    if base.ndim != 2 or queries.ndim != 2 or base.shape[1] != queries.shape[1]:
        raise SystemExit("base and queries must be 2-d arrays of the same width")
    name = name or os.path.splitext(os.path.basename(base_path))[0]
    return Dataset(name, base, queries, "files %s, %s" % (base_path, query_path))


# Splits rows (n * d) into base and held-out queries with a seeded permutation.
def hold_out(rows, n_queries, seed=SYNTH_SEED):
    if n_queries >= len(rows):
        raise SystemExit("the table has %d rows: too few to hold out %d queries" % (len(rows), n_queries))
    perm = np.random.default_rng(seed).permutation(len(rows))
    q = np.sort(perm[:n_queries])
    b = np.sort(perm[n_queries:])
    return rows[b], rows[q]


# Names a data set after its source table, e.g. "table-public.items.embedding".
def table_dataset_name(table, column):
    return "table-%s.%s" % (table, column)
