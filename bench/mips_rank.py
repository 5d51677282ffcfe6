"""Offline study of how an inner-product ivf index should rank its lists
(issue 13 goal 2; src/core/mips.h): lists are FAISS k-means cells of the
MIPS reduction's augmented rows, as pg_ivf trains them (10 iterations, 128
sample rows per list); for each query, the rank of each true top-10 row's
list under a list ranking gives recall@10 at p probed lists (the scan is
exact among the lists it probes).  Prints, per ranking, recall at probes
4..32, the rows those probes read, and the lists needed for recall 0.99.

    /usr/bin/python3 bench/mips_rank.py [--lists 245] [--queries 1000] [--seed 7]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402

PROBES = (4, 8, 12, 16, 24, 32)


# Recall@10 at each probe count and the probes needed for 0.99, from the
# query x list score matrix (larger first, ties to the lower list).
def evaluate(name, score, list_of_truth, sizes):
    order = np.argsort(-score, axis=1, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(len(score))[:, None]
    rank[rows, order] = np.arange(score.shape[1])[None, :]
    nr = rank[rows, list_of_truth]
    need = next(p for p in range(1, score.shape[1] + 1) if (nr < p).mean() >= 0.99)
    read = lambda p: sizes[order[:, :p]].sum(1).mean()
    cells = " ".join("%.4f (%5.0f)" % ((nr < p).mean(), read(p)) for p in PROBES)
    print("%-34s %4d (%6.0f) | %s" % (name, need, read(need), cells), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", type=int, default=245)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    import faiss

    ds = datasets.load_fashion_mnist()
    base, queries = ds.base, ds.queries[: args.queries]
    n, d = base.shape
    k = args.lists
    norms2 = (base.astype(np.float64) ** 2).sum(1)
    aug = np.hstack([base, np.sqrt(norms2.max() - norms2)[:, None]]).astype(np.float32)
    t = time.time()
    km = faiss.Kmeans(d + 1, k, niter=10, seed=args.seed, max_points_per_centroid=128)
    km.train(aug)
    flat = faiss.IndexFlatL2(d + 1)
    flat.add(km.centroids)
    lab = flat.search(aug, 1)[1][:, 0]
    ip = faiss.IndexFlatIP(d)
    ip.add(base)
    truth = ip.search(queries, 10)[1]
    print("k-means and truth: %.0f s" % (time.time() - t), flush=True)

    B = base.astype(np.float64)
    Q = queries.astype(np.float64)
    C = km.centroids[:, :d].astype(np.float64)
    bn = np.sqrt(norms2)
    qn = np.linalg.norm(Q, axis=1)
    sizes = np.bincount(lab, minlength=k)
    tl = lab[truth]
    # the training sample the build keeps, 128 rows per list
    rng = np.random.default_rng(args.seed)
    sample = np.zeros(n, bool)
    sample[rng.choice(n, min(n, 128 * k), replace=False)] = True
    members = [np.where(lab == j)[0] for j in range(k)]
    longest = [m[sample[m]][np.argsort(-bn[m[sample[m]]], kind="stable")] for m in members]
    radius = np.array([np.linalg.norm(B[m] - C[j], axis=1).max() if len(m) else 0 for j, m in enumerate(members)])
    q90 = np.array([np.quantile(np.linalg.norm(B[m] - C[j], axis=1), 0.9) if len(m) else 0
                    for j, m in enumerate(members)])
    maxnorm = np.array([bn[m].max() if len(m) else 0 for m in members])
    top4 = np.array([B[t[:4]].mean(0) if len(t) else C[j] for j, t in enumerate(longest)])

    print("%-34s need 0.99 (rows) | recall@10 (rows read) at probes %s" % ("ranking", PROBES))
    qc = Q @ C.T
    evaluate("<q, c> (before)", qc, tl, sizes)
    evaluate("<q, c> + |q| max |x - c| (ball)", qc + qn[:, None] * radius[None, :], tl, sizes)
    evaluate("<q, c> + |q| q0.9 |x - c|", qc + qn[:, None] * q90[None, :], tl, sizes)
    evaluate("|q| max |x|", qn[:, None] * maxnorm[None, :], tl, sizes)
    evaluate("<q, h>, h: mean of 4 longest", Q @ top4.T, tl, sizes)
    evaluate("<q, r>, r = c/4 + 3h/4 (built)", Q @ (0.25 * C + 0.75 * top4).T, tl, sizes)
    oracle = np.full((len(Q), k), -np.inf)
    for j, m in enumerate(members):
        if len(m):
            oracle[:, j] = (Q @ B[m].T).max(1)
    evaluate("oracle: max <q, x> in the list", oracle, tl, sizes)


if __name__ == "__main__":
    main()
