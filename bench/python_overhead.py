#!/usr/bin/env python3
"""Costs of the Python package (issue 15's goals), with the package of a build on PYTHONPATH:

    PYTHONPATH=build/python python3 bench/python_overhead.py [BIG_RESULT.json]

1. run(): the time Python adds around the library's call (the plan to JSON, the document from
   JSON, the Result) over the time inside _core.run_json, which is the path the CLI takes
   (plan, devices, session, document); goal < 1 ms.
2. to_pandas() on a result of 10,000 records (bench/large_result.py makes one); goal < 1 s.
3. sweep() of 8 small benchmarks on a two-worker Dask LocalCluster against the same sweep run
   here: the overhead per task (goal < 50 ms) and the figures side by side.
Each measured several times, alternating where two things are compared.
"""
import statistics
import sys
import time

import xpubench
from xpubench import _core

POLICY = {"warmup_seconds": 0.01, "min_seconds": 0.05, "max_seconds": 0.1, "min_samples": 3}


def call_overhead(rounds=20):
    inside = []
    real = _core.run_json

    def timed(*a, **k):
        t = time.perf_counter()
        out = real(*a, **k)
        inside.append(time.perf_counter() - t)
        return out

    _core.run_json = timed
    totals = []
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            xpubench.run("memory.bandwidth", {"kernel": "copy", "threads": 1, "array_bytes": "1MiB"}, device="cpu",
                         policy=POLICY)
            totals.append(time.perf_counter() - t)
    finally:
        _core.run_json = real
    added = [1e3 * (a - b) for a, b in zip(totals, inside)]
    print(f"run(): {1e3 * statistics.median(totals):.1f} ms in all, {1e3 * statistics.median(inside):.1f} ms in the "
          f"library; Python adds median {statistics.median(added):.3f} ms (min {min(added):.3f}, max {max(added):.3f})")


def frame_time(path, rounds=3):
    r = xpubench.load(path)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        df = r.to_pandas()
        times.append(time.perf_counter() - t)
    print(f"to_pandas(): {len(r)} records, {len(df)} rows x {len(df.columns)} columns: "
          + " / ".join(f"{x:.2f}" for x in times) + " s")


def sweep_overhead(rounds=3, n=8):
    from distributed import Client, LocalCluster

    grid = {"kernel": ["copy", "scale", "add", "triad"], "threads": [1, 2], "array_bytes": "1MiB"}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        xpubench.sweep("memory.bandwidth", grid, devices="cpu", policy=POLICY, client=client, progress=False)  # warm
        for i in range(rounds):
            t = time.perf_counter()
            here = xpubench.sweep("memory.bandwidth", grid, devices="cpu", policy=POLICY, progress=False)
            serial = time.perf_counter() - t
            t = time.perf_counter()
            spread = xpubench.sweep("memory.bandwidth", grid, devices="cpu", policy=POLICY, client=client,
                                    progress=False)
            dask = time.perf_counter() - t
            a, b = here.to_pandas(), spread.to_pandas()
            ratios = (b["median"] / a["median"]).round(2).tolist()
            print(f"sweep of {n}: here {serial:.2f} s, on 2 workers {dask:.2f} s: {1e3 * (dask - serial) / n:.1f} ms a "
                  f"task; medians Dask/here {ratios}")


if __name__ == "__main__":
    call_overhead()
    if len(sys.argv) > 1:
        frame_time(sys.argv[1])
    sweep_overhead()
