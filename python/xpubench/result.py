"""A result document (the JSON that `xpubench run` writes, DESIGN.md §7) and its views: the
records, a tidy pandas DataFrame, the JSON text."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

# The columns of to_pandas() before the parameters, in order: what a row is about, then the
# figure and its statistics (the document's names and units).
ID_COLUMNS = ["run_id", "hostname", "benchmark_id", "workload", "device", "status", "valid"]
METRIC_COLUMNS = ["metric", "unit", "direction", "source", "n", "median", "ci95_lo", "ci95_hi", "cv",
                  "mean", "min", "max", "stddev", "p50", "p90", "p99"]


class Result:
    """One result document.

    `document` is the dict a result file holds (schema: reports/result.schema.json): `run`,
    `system`, `devices`, `benchmarks` (one record per benchmark x device, each with `metrics`,
    each metric with its raw `samples` and `stats`). A Result owns its dict; the views below
    read it and never change it.
    """

    def __init__(self, document: Dict[str, Any]):
        if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
            raise ValueError("not a result document: expected an object with a 'benchmarks' list")
        self.document = document

    # --- views ------------------------------------------------------------------------------

    @property
    def records(self) -> List[Dict[str, Any]]:
        """The benchmark records, in the order they ran."""
        return self.document["benchmarks"]

    @property
    def status(self) -> str:
        """The run's status: complete, incomplete or interrupted."""
        return self.document.get("run", {}).get("status", "")

    def metrics(self) -> Iterator[tuple]:
        """(record, metric) for every figure of every record."""
        for record in self.records:
            for metric in record.get("metrics", []):
                yield record, metric

    def samples(self, workload: str, metric: str, device: Optional[str] = None, **params) -> List[List[float]]:
        """The raw samples (in the metric's unit) of `metric` for each record of `workload`
        (on `device`, with these parameter values, when given), in record order."""
        out = []
        for record, m in self.metrics():
            if record["workload"] != workload or m["name"] != metric:
                continue
            if device is not None and record["device"] != device:
                continue
            if any(record.get("params", {}).get(k) != v for k, v in params.items()):
                continue
            out.append(list(m.get("samples", [])))
        return out

    def to_pandas(self, samples: bool = False):
        """A tidy DataFrame: one row per benchmark x metric (a record without figures: one row,
        its metric columns empty). Columns: ID_COLUMNS, then one per parameter (named as the
        parameter; `param_NAME` where that would clash with another column), then
        METRIC_COLUMNS (statistics in the metric's `unit`; `source` is measured, simulated or
        modeled), then `samples` (a list per row) when asked for."""
        import pandas as pd

        run = self.document.get("run", {})
        host = self.document.get("system", {}).get("hostname")
        fixed = set(ID_COLUMNS) | set(METRIC_COLUMNS) | {"samples"}
        param_names: Dict[str, str] = {}
        rows = []
        for record in self.records:
            base = {"run_id": run.get("id"), "hostname": record.get("system", {}).get("hostname", host),
                    "benchmark_id": record.get("id"), "workload": record.get("workload"),
                    "device": record.get("device"), "status": record.get("status"),
                    "valid": record.get("valid", True)}
            for k, v in record.get("params", {}).items():
                column = param_names.setdefault(k, f"param_{k}" if k in fixed else k)
                base[column] = v
            metrics = record.get("metrics", [])
            if not metrics:
                rows.append(base)
            for m in metrics:
                row = dict(base)
                stats = m.get("stats", {})
                row.update(metric=m.get("name"), unit=m.get("unit"), direction=m.get("direction"),
                           source=m.get("source"))
                for k in METRIC_COLUMNS[4:]:
                    row[k] = stats.get(k)
                if samples:
                    row["samples"] = list(m.get("samples", []))
                rows.append(row)
        columns = ID_COLUMNS + list(param_names.values()) + METRIC_COLUMNS + (["samples"] if samples else [])
        frame = pd.DataFrame.from_records(rows, columns=columns)
        for k in METRIC_COLUMNS[4:]:
            frame[k] = pd.to_numeric(frame[k], errors="coerce")
        return frame

    def to_json(self, path: Union[str, Path, None] = None, indent: Optional[int] = 1) -> str:
        """The document as JSON text; written to `path` too when given (the file `xpubench
        report`, `compare` and `validate` read)."""
        text = json.dumps(self.document, indent=indent)
        if path is not None:
            Path(path).write_text(text)
        return text

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        devices = sorted({r.get("device") for r in self.records})
        return f"<xpubench.Result {self.status or 'run'}: {len(self)} records on {', '.join(map(str, devices))}>"
