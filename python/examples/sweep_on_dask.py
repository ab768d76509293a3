"""A sweep of memory bandwidth over kernels and thread counts, on a Dask cluster: a local one of
two worker processes, or the fleet behind a scheduler's address.

    python3 python/examples/sweep_on_dask.py                      # a LocalCluster here
    python3 python/examples/sweep_on_dask.py tcp://scheduler:8786 # workers started with
                                                                  #   dask worker tcp://scheduler:8786 --resources xpubench=1

One task per benchmark, one benchmark per machine at a time; the records come back into one
result document (written to sweep.json, which `xpubench report --format html` renders) and one
DataFrame with the machine each figure was measured on.
"""
import sys

from distributed import Client, LocalCluster

import xpubench


def main():
    cluster = None
    if len(sys.argv) > 1:
        client = Client(sys.argv[1])
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    try:
        result = xpubench.sweep("memory.bandwidth",
                                {"kernel": ["copy", "scale", "add", "triad"], "threads": [1, 2],
                                 "array_bytes": "64MiB"},
                                devices="cpu", policy={"min_seconds": 0.2, "max_seconds": 1, "min_samples": 6},
                                client=client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    result.to_json("sweep.json")
    df = result.to_pandas()
    print(df.pivot_table(index=["hostname", "kernel"], columns="threads", values="median").round(1).to_string())
    print(f"\n{result}, valid: {not xpubench.validate(result)}; written to sweep.json")


if __name__ == "__main__":
    main()
