"""Results: one JSON line per measurement in <out>/results.jsonl, rendered
as a markdown table (<out>/results.md) and a recall-QPS plot
(<out>/recall_qps.png; recall_cpu.png plots queries per CPU second).
Later runs of the same system and knob value replace earlier ones, so
side-by-side runs into one dir share the table.

Re-render without measuring:  /usr/bin/python3 bench/report.py bench/results/fashion-mnist
"""

import json
import os
import sys

MIB = 2 ** 20
RECALL_LEVELS = (0.90, 0.95, 0.99)


def append(out_dir, record):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.jsonl"), "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def read(out_dir):
    path = os.path.join(out_dir, "results.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# The latest record per (system, knob value), grouped by system in the order
# systems first appear.
def latest(records):
    by_key, order = {}, []
    for r in records:
        if r["system"] not in order:
            order.append(r["system"])
        by_key[(r["system"], r.get("value"))] = r
    groups = []
    for s in order:
        rows = [r for (sys_, _), r in by_key.items() if sys_ == s]
        rows.sort(key=lambda r: (r.get("value") is None, r.get("value") or 0))
        groups.append((s, rows))
    return groups


# The fastest measurement (by `key`: "qps" or "cpu_qps") of a system's rows
# at recall@10 >= level, or None.
def best_at(rows, level, key="qps"):
    ok = [r for r in rows if r["recall_at_10"] >= level and r.get(key)]
    return max(ok, key=lambda r: r[key]) if ok else None


def _fmt(x, spec, scale=1.0):
    return "—" if x is None else format(x / scale, spec)


# The markdown report: a summary per system, then every measurement.
def markdown(records):
    groups = latest(records)
    if not groups:
        return "no results\n"
    first = records[-1]
    # The index measurements' query count (exact scans and several clients use other counts).
    n_queries = max(r["n_queries"] for r in records if (r.get("clients") or 1) == 1)
    lines = ["# %s: %d base rows, %d queries, %d dims, k = %d" % (
        first["dataset"], first["n_base"], n_queries, first["dim"], 10), ""]
    sizes = {}
    for r in records:
        if r.get("table_bytes"):
            sizes[r.get("extension") or ""] = r["table_bytes"]
    if sizes:
        lines += ["Table size (pg_total_relation_size with no index): %s. "
                  "recall@10 (ties) counts a returned row within 1e-3 of the 10th true distance "
                  "as ann-benchmarks does." % ", ".join(
                      "%.1f MiB%s" % (b / MIB, " (%s)" % e if len(sizes) > 1 else "") for e, b in sizes.items()),
                  ""]
    lines += summary(groups, "qps", "QPS")
    if any(r.get("cpu_qps") for r in records):
        lines += ["", "Queries per CPU second (the backend's and the client's CPU time over the same "
                  "loop; on a shared machine it estimates one client's QPS on an idle one):", ""]
        lines += summary(groups, "cpu_qps", "per CPU s")
    lines += ["", "| system | knob | value | recall@10 | recall@10 (ties) | QPS | per CPU s | p50 ms | p99 ms | build s | index MiB | queries |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s, rows in groups:
        for r in rows:
            lines.append("| %s | %s | %s | %.4f | %s | %.1f | %s | %.3f | %.3f | %s | %s | %d |" % (
                s, r.get("knob") or "—", "—" if r.get("value") is None else r["value"],
                r["recall_at_10"], _fmt(r.get("recall_at_10_ties"), ".4f"), r["qps"],
                _fmt(r.get("cpu_qps"), ".1f"), r["p50_ms"],
                r["p99_ms"], _fmt(r.get("build_s"), ".1f"), _fmt(r.get("index_bytes"), ".1f", MIB),
                r["n_queries"]))
    lines += clients_table(records)
    warn = [r for r in records if r.get("uses_index") is False]
    if warn:
        lines += ["", "Warning: the planner did not use the index for: " +
                  ", ".join(sorted({"%s %s" % (r["system"], r.get("value")) for r in warn}))]
    return "\n".join(lines) + "\n"


# Per system: build, size and the best `key` (QPS or per CPU second) at each recall level.
def summary(groups, key, name):
    lines = ["| system | build s | index MiB | " + " | ".join(
        "%s at recall ≥ %.2f" % (name, lv) for lv in RECALL_LEVELS) + " | best recall@10 |",
        "|---|---:|---:|" + "---:|" * len(RECALL_LEVELS) + "---:|"]
    for s, rows in groups:
        cells = []
        for lv in RECALL_LEVELS:
            best = best_at(rows, lv, key)
            if not best:
                cells.append("—")
            elif best.get("knob"):
                cells.append("%.0f (%s %s)" % (best[key], best["knob"], best["value"]))
            else:
                cells.append("%.1f" % best[key])
        lines.append("| %s | %s | %s | %s | %.3f |" % (
            s, _fmt(rows[0].get("build_s"), ".1f"), _fmt(rows[0].get("index_bytes"), ".1f", MIB),
            " | ".join(cells), max(r["recall_at_10"] for r in rows)))
    return lines


# One client's QPS beside the throughput of several clients running the same
# loop, per system and knob value (the series "<system>, N clients").
def clients_table(records):
    latest_by = {}
    for r in records:
        latest_by[(r.get("base_system") or r["system"], r.get("value"), r.get("clients") or 1)] = r
    multi = sorted({(s, v, c) for (s, v, c) in latest_by if c > 1}, key=lambda k: (k[0], k[1] or 0, k[2]))
    if not multi:
        return []
    lines = ["", "| system | knob | value | recall@10 | QPS, 1 client | clients | QPS, all clients | ratio "
             "| per CPU s, 1 client | per CPU s, all clients |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s, v, c in multi:
        one, many = latest_by.get((s, v, 1)), latest_by[(s, v, c)]
        lines.append("| %s | %s | %s | %.4f | %s | %d | %.1f | %s | %s | %s |" % (
            s, many.get("knob") or "—", "—" if v is None else v, many["recall_at_10"],
            _fmt(one and one["qps"], ".1f"), c, many["qps"],
            _fmt(one and many["qps"] / one["qps"], ".2f"), _fmt(one and one.get("cpu_qps"), ".1f"),
            _fmt(many.get("cpu_qps"), ".1f")))
    return lines


# Recall (x) against QPS (y, log scale), one line per system; key "cpu_qps"
# plots queries per CPU second instead.
def plot(records, path, key="qps"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = latest(records)
    if not groups:
        return
    first = records[-1]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    for s, rows in groups:
        rows = [r for r in rows if r.get(key)]
        if not rows:
            continue
        xs = [r["recall_at_10"] for r in rows]
        ys = [r[key] for r in rows]
        if len(rows) == 1:
            ax.plot(xs, ys, "*", markersize=12, label=s)
        else:
            style = "--" if s.startswith("faiss") else "-"
            ax.plot(xs, ys, style, marker="o", markersize=4, label=s)
        for r in rows:
            if r.get("value") is not None:
                ax.annotate(str(r["value"]), (r["recall_at_10"], r[key]), fontsize=6,
                            xytext=(2, 2), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (one client, log scale)" if key == "qps" else
                  "queries per CPU second (backend + client, log scale)")
    n_queries = max(r["n_queries"] for r in records if (r.get("clients") or 1) == 1)
    ax.set_title("%s%s: %d rows, %d dims, %d queries" % (
        first["dataset"], "" if first.get("metric", "l2") == "l2" else " (%s)" % first["metric"],
        first["n_base"], first["dim"], n_queries))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render(out_dir):
    records = read(out_dir)
    md = markdown(records)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    plot(records, os.path.join(out_dir, "recall_qps.png"))
    if any(r.get("cpu_qps") for r in records):
        plot(records, os.path.join(out_dir, "recall_cpu.png"), key="cpu_qps")
    return md


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: report.py OUT_DIR")
    print(render(sys.argv[1]), end="")
