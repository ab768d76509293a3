#!/usr/bin/env python3
"""Writes a result document of N benchmarks for timing `report`, `compare`, `verify` and
`validate` on large results (issue 14: 10,000 benchmarks in under 2 s).

The records are copies of the records of a real result (TEMPLATE), each given its own
parameter `copy` (so its own id) and, with --scale, every sample and statistic multiplied by
that factor. The figures are copies, not measurements: run.command says so, and the integrity
member is left out (it would not match).

    python3 bench/large_result.py TEMPLATE.json 10000 OUT.json [--scale 1.01]
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    doc = json.load(open(a.template))
    passed = [b for b in doc["benchmarks"] if b["metrics"]]
    if not passed:
        sys.exit(f"{a.template}: no record with metrics to copy")
    doc.pop("integrity", None)
    doc["run"]["command"] = ["bench/large_result.py", a.template, str(a.n), a.out, "(copies, not measurements)"]
    out = []
    for i in range(a.n):
        b = json.loads(json.dumps(passed[i % len(passed)]))
        b["params"]["copy"] = i
        b["id"] = b["id"] + f",copy={i}"
        for m in b["metrics"]:
            m["samples"] = [s * a.scale for s in m["samples"]]
            for k, v in m["stats"].items():
                if k not in ("n", "cv") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    m["stats"][k] = v * a.scale
        out.append(b)
    doc["benchmarks"] = out
    json.dump(doc, open(a.out, "w"))


if __name__ == "__main__":
    main()
