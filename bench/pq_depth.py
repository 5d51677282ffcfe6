#!/usr/bin/python3
"""Offline study of PQ's automatic re-rank depth (src/core/rerank.h): rows
re-ranked per query and recall@10 / recall@50 for each cover and share z,
on a FAISS twin of a pg_ivf PQ index (k-means lists, PQ of the residuals).

  /usr/bin/python3 bench/pq_depth.py                      # Fashion-MNIST, lists 245, PQ56, probes 8
  /usr/bin/python3 bench/pq_depth.py --cover 20,50 --share 0.071,0.12 --reach-share z,z2

For each query the probed rows get the code's estimate est = ||q - x~||,
their error err = ||x - x~|| and their true distance. A depth keeps the rows
whose est - z err is at or below X, the cover-th smallest est + z_hi err, plus
the rows whose guaranteed bound est - err is at or above X (ivfscan.cpp);
a LIMIT k then re-ranks the kept rows below X and those beyond it whose
bound is below the k-th answer, and returns the k nearest kept rows. The
twin's PQ is trained by FAISS, not by pg_ivf, so its numbers are close to,
not equal to, an index's (EXPLAIN ANALYZE's rows re-ranked: README, PQ
re-ranking). Per-query arrays are cached beside the data set's.
"""

import argparse
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import datasets  # noqa: E402


# k-means on 20,000 sampled rows, PQ on 16,384 residuals (pg_ivf's kPqMaxTrainRows).
def twin(ds, lists, m, probes, n_queries):
    import faiss
    faiss.omp_set_num_threads(1)
    x = np.ascontiguousarray(ds.base, dtype=np.float32)
    n, d = x.shape
    km = faiss.Kmeans(d, lists, niter=10, seed=1)
    km.train(x[np.random.RandomState(0).choice(n, min(n, 20000), replace=False)])
    _, lab = km.index.search(x, 1)
    lab = lab[:, 0]
    resid = x - km.centroids[lab]
    pq = faiss.ProductQuantizer(d, m, 8)
    pq.train(np.ascontiguousarray(resid[np.random.RandomState(1).choice(n, min(n, 256 * 64), replace=False)]))
    decoded = km.centroids[lab] + pq.decode(pq.compute_codes(resid))
    err = np.linalg.norm(x - decoded, axis=1)
    q = np.ascontiguousarray(ds.queries[:n_queries], dtype=np.float32)
    _, probed = km.index.search(q, probes)
    members = [np.flatnonzero(lab == i) for i in range(lists)]
    per_query = []
    for qi in range(len(q)):
        ids = np.concatenate([members[i] for i in probed[qi]])
        true_all = np.linalg.norm(x - q[qi], axis=1)
        top = np.argsort(true_all)[:50]
        per_query.append((np.linalg.norm(decoded[ids] - q[qi], axis=1), err[ids], true_all[ids],
                          np.isin(ids, top[:10]), np.isin(ids, top)))
    return per_query


# Mean rows re-ranked per query and recall@k of one depth rule.
def evaluate(per_query, cover, z, z_hi, k):
    hits = rows = short = 0
    for est, err, true, top10, top50 in per_query:
        reach = np.partition(est + z_hi * err, cover - 1)[cover - 1] if len(est) >= cover else np.inf
        likely = est - z * err <= reach
        bound = est - err
        beyond = bound >= reach
        kept = likely | beyond
        kth = np.partition(true[kept], k - 1)[k - 1] if kept.sum() >= k else np.inf
        short += kept.sum() < k
        rows += likely.sum() + (beyond & ~likely & (bound < kth)).sum() + 1
        hits += (kept & (true <= kth) & (top10 if k == 10 else top50)).sum()
    return rows / len(per_query), hits / (k * len(per_query)), short


def floats(text):
    return [float(v) for v in text.split(",")]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lists", type=int, default=245)
    p.add_argument("--pq-m", type=int, default=56)
    p.add_argument("--probes", type=int, default=8)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--cover", default="20,40,50,60")
    p.add_argument("--share", default="0.04,0.071,0.1,0.12")
    p.add_argument("--reach-share", default="z,z2", help="z_hi of each rule: z (before), z2 (z squared), or numbers")
    a = p.parse_args()
    ds = datasets.load_fashion_mnist()
    cache = os.path.join(datasets.cache_dir(), "fashion-mnist", "pq_depth_l%d_m%d_p%d_q%d.npy" % (
        a.lists, a.pq_m, a.probes, a.queries))
    if os.path.exists(cache):
        per_query = list(np.load(cache, allow_pickle=True))
    else:
        print("training the FAISS twin (a few minutes)", flush=True)
        per_query = twin(ds, a.lists, a.pq_m, a.probes, a.queries)
        np.save(cache, np.array(per_query, dtype=object), allow_pickle=True)
    ceiling = np.mean([(t10 & (tr <= np.sort(tr)[9])).sum() / 10 for _, _, tr, t10, _ in per_query])
    print("recall@10 among the probed rows: %.4f" % ceiling)
    print("| cover | z | z_hi | rows LIMIT 10 | recall@10 | rows LIMIT 50 | recall@50 | short at 50 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cover in [int(c) for c in a.cover.split(",")]:
        for z in floats(a.share):
            for rule in a.reach_share.split(","):
                z_hi = z if rule == "z" else z * z if rule == "z2" else float(rule)
                r10, rec10, _ = evaluate(per_query, cover, z, z_hi, 10)
                r50, rec50, short = evaluate(per_query, cover, z, z_hi, 50)
                print("| %d | %.3f | %.4f | %.1f | %.4f | %.1f | %.4f | %d |" % (
                    cover, z, z_hi, r10, rec10, r50, rec50, short), flush=True)


if __name__ == "__main__":
    main()
