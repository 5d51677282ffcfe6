"""The bare-library reference: FAISS in process with the same nlist as the
index under test (IVF-Flat, IVF-SQ8, IVF-PQ), built with the machine's
threads and queried one query at a time on one thread."""

import time

import numpy as np

import truth
from pgquery import K, timing_stats

KINDS = {"flat": "Flat", "sq8": "SQ8"}


# The FAISS factory string and a label for one reference index. "np" turns
# off polysemous training, which only serves Hamming filtering that these
# searches never use, and would otherwise dominate the build time.
def describe(kind, nlist, pq_m=None):
    if kind == "pq":
        return "IVF%d,PQ%dnp" % (nlist, pq_m), "faiss IVF-PQ%d" % pq_m
    return "IVF%d,%s" % (nlist, KINDS[kind]), "faiss IVF-%s" % KINDS[kind]


# Trains and fills one index; returns it with build seconds and serialized bytes.
# Inner product and cosine use FAISS's METRIC_INNER_PRODUCT (cosine on unit rows and queries).
def build(ds, kind, nlist, pq_m=None, threads=None, log=print, metric="l2"):
    import faiss
    factory, label = describe(kind, nlist, pq_m)
    if threads:
        faiss.omp_set_num_threads(threads)
    index = faiss.index_factory(ds.dim, factory, faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT)
    base = np.ascontiguousarray(truth._unit(ds.base) if metric == "cosine" else ds.base, dtype=np.float32)
    t0 = time.perf_counter()
    index.train(base)
    index.add(base)
    seconds = time.perf_counter() - t0
    size = int(faiss.serialize_index(index).size)
    log("  %s (%s): built in %.1f s, %.1f MiB" % (label, factory, seconds, size / 2**20))
    return index, seconds, size


# One measurement per nprobe value: recall@10 and single-thread latencies.
def measure(index, ds, truth_ids, truth_dist, values, warmup=20, metric="l2"):
    import faiss
    faiss.omp_set_num_threads(1)
    raw = np.ascontiguousarray(ds.queries, dtype=np.float32)
    q = np.ascontiguousarray(truth._unit(raw) if metric == "cosine" else raw, dtype=np.float32)
    out = []
    for nprobe in values:
        index.nprobe = int(min(nprobe, index.nlist))
        for i in range(min(warmup, len(q))):
            index.search(q[i:i + 1], K)
        found = []
        lat = np.empty(len(q))
        clock = time.perf_counter
        c0 = time.thread_time()
        t_start = clock()
        for i in range(len(q)):
            t0 = clock()
            _, ids = index.search(q[i:i + 1], K)
            lat[i] = clock() - t0
            found.append(ids[0][ids[0] >= 0])
        wall = clock() - t_start
        cpu_s = time.thread_time() - c0
        rec = {"value": int(nprobe),
               "recall_at_10": truth.recall_at(found, truth_ids),
               "recall_at_10_ties": truth.recall_at_ties(found, ds.base, raw, truth_dist, metric=metric)}
        rec.update(timing_stats(lat, wall, cpu_s))
        out.append(rec)
    return out
