"""Memory bandwidth per kernel and thread count on this machine's cpu, as a pandas table.

    python3 python/examples/threads_by_kernel.py [results.json]

Every kernel x thread count is one benchmark (a parameter given as a list is a grid axis); the
run policy keeps each figure short. The result is also written as a result document, which
`xpubench report`, `compare` and `validate` read.
"""
import sys

import xpubench

result = xpubench.run("memory.bandwidth",
                      {"kernel": ["copy", "scale", "add", "triad"], "threads": [1, 2], "array_bytes": "64MiB"},
                      device="cpu",
                      policy={"min_seconds": 0.2, "max_seconds": 1, "min_samples": 6},
                      output=sys.argv[1] if len(sys.argv) > 1 else None)
df = result.to_pandas()
print(df.pivot_table(index="kernel", columns="threads", values="median").round(1).to_string())
print(f"\n{result}; every figure in GB/s (unit column), median of n samples with its 95% CI")
