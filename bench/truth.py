"""Exact ground truth (top-100 by the metric: l2, ip or cosine) and recall.

FAISS's IndexFlatL2 (IndexFlatIP for ip and cosine) finds candidates fast
with BLAS, whose float32 sums can misorder near-ties; so it is asked for a
margin of extra candidates, and those are re-ranked with exact float64
distances (ties broken by the smaller id) before the top 100 are kept.
Distances are the SQL operators' values: <-> (l2), <#> (ip: the negative
inner product), <=> (cosine: 1 - cosine similarity).
"""

import glob
import os
import re
import time

import numpy as np

from datasets import cache_dir

TOP = 100
MARGIN = 28
CHUNK = 1000


def _unit(m):
    m = np.asarray(m, dtype=np.float64)
    n = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(n == 0, 1, n)


# The SQL operator's value of each row of rows (float64) for one query q.
def distances(metric, rows, q):
    rows = np.asarray(rows, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if metric == "ip":
        return -(rows @ q)
    if metric == "cosine":
        return 1.0 - _unit(rows) @ _unit(q)
    diff = rows - q
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


# Exact top-k ids (n_queries * k int32) and distances (n_queries * k float32).
def exact_topk(base, queries, k=TOP, threads=None, log=None, metric="l2"):
    import faiss
    if threads:
        faiss.omp_set_num_threads(threads)
    d = base.shape[1]
    index = faiss.IndexFlatL2(d) if metric == "l2" else faiss.IndexFlatIP(d)
    base_f = _unit(base) if metric == "cosine" else base
    index.add(np.ascontiguousarray(base_f, dtype=np.float32))
    kk = min(len(base), k + MARGIN)
    k = min(k, len(base))
    ids = np.empty((len(queries), k), dtype=np.int32)
    dist = np.empty((len(queries), k), dtype=np.float32)
    t0 = time.time()
    for start in range(0, len(queries), CHUNK):
        q = np.ascontiguousarray(queries[start:start + CHUNK], dtype=np.float32)
        _, cand = index.search(np.ascontiguousarray(_unit(q) if metric == "cosine" else q, dtype=np.float32), kk)
        for j in range(len(q)):
            c = cand[j][cand[j] >= 0]
            dd = distances(metric, base[c], q[j])
            order = np.lexsort((c, dd))[:k]
            ids[start + j] = c[order]
            dist[start + j] = dd[order]
        if log and len(queries) > CHUNK:
            log("  ground truth: %d/%d queries (%.0f s)" % (min(start + CHUNK, len(queries)),
                                                          len(queries), time.time() - t0))
    return ids, dist


# Ground truth for the data set's first n_queries queries, from the cache when
# any cached file covers them, else computed and saved.
def ground_truth(ds, threads=None, log=None, metric="l2"):
    key = "%s-%s-n%d%s" % (ds.name, ds.fingerprint(), len(ds.base), "" if metric == "l2" else "-" + metric)
    d = os.path.join(cache_dir(), "truth")
    os.makedirs(d, exist_ok=True)
    nq = len(ds.queries)
    for path in glob.glob(os.path.join(d, key + "-q*-ids.npy")):
        m = re.search(r"-q(\d+)-ids\.npy$", path)
        if m and int(m.group(1)) >= nq:
            ids = np.load(path)[:nq]
            dist = np.load(path.replace("-ids.npy", "-dist.npy"))[:nq]
            return ids, dist
    if log:
        log("computing exact top-%d for %d queries over %d rows" % (TOP, nq, len(ds.base)))
    ids, dist = exact_topk(ds.base, ds.queries, threads=threads, log=log, metric=metric)
    # Names carry the query count; a file for more queries serves any prefix.
    stem = os.path.join(d, "%s-q%d" % (key, nq))
    for suffix, arr in (("-dist.npy", dist), ("-ids.npy", ids)):
        np.save(stem + suffix + ".tmp.npy", arr)
        os.replace(stem + suffix + ".tmp.npy", stem + suffix)
    return ids, dist


# Mean |returned top-10 & true top-10| / 10 over queries; rows of `found` may be short.
def recall_at(found, truth_ids, k=10):
    hits = 0
    for got, true in zip(found, truth_ids):
        hits += len(set(int(x) for x in got[:k]) & set(int(x) for x in true[:k]))
    return hits / (k * len(found)) if len(found) else 0.0


# ann-benchmarks' rule: a returned row counts when its distance is within
# (1 + 1e-3) of the k-th true distance (1e-3 of its magnitude: inner-product
# distances are negative), so ties at the k-th place are not lost.
def recall_at_ties(found, base, queries, truth_dist, k=10, eps=1e-3, metric="l2"):
    hits = 0
    for got, q, td in zip(found, queries, truth_dist):
        got = np.asarray(got[:k], dtype=np.int64)
        if len(got) == 0:
            continue
        dd = distances(metric, base[got], q)
        kth = float(td[k - 1])
        hits += int(np.sum(dd <= kth + eps * abs(kth) + 1e-9))
    return hits / (k * len(found)) if len(found) else 0.0
