#!/usr/bin/env python3
"""Ratio tables from the last `cargo bench` run of benches/.

    python3 benches/report.py [benches/target/criterion]

For every benchmark group, one row per input size: the median throughput of
each measured implementation, then wsmachine's ratio to the best peer crate
(tungstenite, fastwebsockets, tokio-websockets) and to each baseline. Only
ratios between results of the same run mean much on a shared machine; the
absolute figures are printed to show the scale.

"wsmachine-send_to" (sending straight to the transport) and
"wsmachine-read_from" (reading straight from it), also with 8 KiB reads
("wsmachine-read_from-8k"), get ratio columns of their own, after wsmachine's.

Where wsmachine was measured several ways for one size (mask at key offsets
0-3, "wsmachine-split" for UTF-8), the slowest of them is used for the ratio
and the others are shown beside it.
"""

import json
import os
import sys
from collections import OrderedDict

PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets"]
BASELINES = ["baseline", "baseline-direct", "memcpy", "bytewise", "std", "simdutf8", "flate2"]
# Other ways wsmachine does the same work, each with ratio columns of its own.
ALTERNATIVES = ["wsmachine-send_to", "wsmachine-read_from", "wsmachine-read_from-8k"]


def load(root):
    results = []
    for dirpath, _dirs, files in os.walk(root):
        if "benchmark.json" not in files or os.path.basename(dirpath) != "new":
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        ns = est["median"]["point_estimate"]
        tp = bench.get("throughput") or {}
        if "Elements" in tp:
            unit = "handshakes/s" if bench["group_id"].startswith("handshake") else "msg/s"
            rate = tp["Elements"] / ns * 1e9
        elif "Bytes" in tp:
            rate, unit = tp["Bytes"] / ns * 1e9, "B/s"
        else:
            rate, unit = 1e9 / ns, "iter/s"
        value = bench.get("value_str") or ""
        size, _, variant = value.partition("/")
        # utf8 ids are kind/size: keep both in the row key.
        if not size.isdigit():
            size, variant = value, ""
        results.append((bench["group_id"], size, bench["function_id"], variant, rate, unit))
    return results


def human(rate, unit):
    for div, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= div:
            return "%.2f %s%s" % (rate / div, prefix, unit)
    return "%.1f %s" % (rate, unit)


def sort_key(size):
    parts = size.split("/")
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts]


def main(root):
    results = load(root)
    if not results:
        print("no criterion results under %s; run cargo bench first" % root, file=sys.stderr)
        return 1
    groups = OrderedDict()
    for group, size, func, variant, rate, unit in sorted(results):
        groups.setdefault(group, OrderedDict()).setdefault(size, {}).setdefault(func, []).append((variant, rate, unit))
    for group, rows in groups.items():
        funcs = sorted({f for r in rows.values() for f in r}, key=lambda f: (f.startswith("wsmachine") is False, f in BASELINES, f))
        peers = [f for f in funcs if f in PEERS]
        bases = [f for f in funcs if f in BASELINES]
        ours = [f for f in funcs if f.startswith("wsmachine") and f not in ALTERNATIVES]
        alts = [f for f in funcs if f in ALTERNATIVES]
        header = ["size"] + funcs
        for who in [None] + alts:
            label = "" if who is None else who[len("wsmachine-"):] + " "
            if peers:
                header.append("%s÷ best peer" % label)
            header += ["%s÷ %s" % (label, b) for b in bases]
        print("\n%s\n" % group)
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for size in sorted(rows, key=sort_key):
            r = rows[size]
            best = {f: min(v[1] for v in r[f]) for f in r}
            cells = [size]
            for f in funcs:
                if f not in r:
                    cells.append("")
                elif len(r[f]) > 1:
                    cells.append("%s (%s)" % (human(best[f], r[f][0][2]), "–".join(human(v[1], v[2]).split()[0] for v in r[f])))
                else:
                    cells.append(human(best[f], r[f][0][2]))
            main_rate = min(best[f] for f in ours if f in best) if any(f in best for f in ours) else None
            for mine in [main_rate] + [best.get(a) for a in alts]:
                if peers:
                    top = max((best[f], f) for f in peers if f in best) if any(f in best for f in peers) else None
                    cells.append("%.2f× (%s)" % (mine / top[0], top[1]) if mine and top else "")
                for b in bases:
                    cells.append("%.2f×" % (mine / best[b]) if mine and b in best else "")
            print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "target", "criterion")))
