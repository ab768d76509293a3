"""matplotlib figures of a Result: the same charts as the HTML report (`xpubench report --format
html`), for notebooks and papers. Each function draws on `ax` (a new figure's axes when None)
and returns the axes. Simulated and modeled figures are drawn apart: dashed lines, hatched
pale bars, "(simulated)" or "(modeled)" in the label.

    import xpubench, xpubench.plot
    r = xpubench.load("results/quick.json")
    xpubench.plot.bandwidth_vs_working_set(r).figure.savefig("sweep.png")
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .result import Result


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(8, 4.5))[1]


def _source_note(metric: Dict[str, Any]) -> str:
    source = metric.get("source", "measured")
    return "" if source == "measured" else f" ({source})"


def _label(record: Dict[str, Any], skip=()) -> str:
    shown = " ".join(f"{k}={v}" for k, v in sorted(record.get("params", {}).items()) if k not in skip)
    return f"{record['device']} {shown}".strip()


def _bars(ax, labels, values, modeled, **style):
    """Horizontal bars top to bottom, the simulated or modeled ones pale and hatched."""
    bars = ax.barh(range(len(values)), values, **style)
    for bar, sim in zip(bars, modeled):
        if sim:
            bar.set_alpha(0.35)
            bar.set_hatch("//")
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.invert_yaxis()


def bandwidth_vs_working_set(result: Result, metric: str = "read_bandwidth", ax=None):
    """memory.sweep's `metric` (GB/s; "latency" for ns/load) against the working-set size (bytes,
    log2 axis), one line per device and thread count, the machine's data and unified cache
    sizes as dotted vertical lines."""
    ax = _axes(ax)
    lines: Dict[str, List] = {}
    styles: Dict[str, bool] = {}
    unit = ""
    for record, m in result.metrics():
        if record["workload"] != "memory.sweep" or m["name"] != metric or m["stats"].get("median") is None:
            continue
        key = f"{record['device']} threads={record['params'].get('threads')}{_source_note(m)}"
        lines.setdefault(key, []).append((record["params"]["size"], m["stats"]["median"]))
        styles[key] = m.get("source", "measured") != "measured"
        unit = m["unit"]
    for key, points in lines.items():
        xs, ys = zip(*sorted(points))
        ax.plot(xs, ys, marker="o", markersize=3, linestyle="--" if styles[key] else "-", label=key)
    for cache in result.document.get("system", {}).get("topology", {}).get("caches", []):
        if cache.get("type") == "instruction":
            continue
        size = cache["size_bytes"]
        ax.axvline(size, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"L{cache['level']}", (size, 1), xycoords=("data", "axes fraction"), fontsize=8,
                    xytext=(2, -10), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("working set (bytes)")
    ax.set_ylabel(f"{metric} ({unit})")
    if lines:
        ax.legend(fontsize=8)
    return ax


def figure_per_device(result: Result, metric: str = "tokens_per_second", workload: Optional[str] = None, ax=None):
    """The median of `metric` (t/s by default; "energy_per_token" for J/token, any figure) of
    each record, one horizontal bar per device and parameters, its 95% CI as an error bar; a
    log axis when the values span more than 100x."""
    ax = _axes(ax)
    labels, values, errors, modeled = [], [], [[], []], []
    unit = ""
    for record, m in result.metrics():
        median = m["stats"].get("median")
        if m["name"] != metric or median is None or (workload and record["workload"] != workload):
            continue
        labels.append(_label(record) + _source_note(m))
        values.append(median)
        lo, hi = m["stats"].get("ci95_lo"), m["stats"].get("ci95_hi")
        errors[0].append(median - lo if lo is not None else 0)
        errors[1].append(hi - median if hi is not None else 0)
        modeled.append(m.get("source", "measured") != "measured")
        unit = m["unit"]
    _bars(ax, labels, values, modeled, xerr=errors, capsize=2)
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_xscale("log")
    ax.set_xlabel(f"{metric} ({unit})")
    return ax


def latency_cdf(result: Result, metric: str = "ttft", workload: Optional[str] = None, ax=None):
    """The empirical CDF of each record's samples of a latency `metric` (TTFT, TPOT, ITL,
    e2e_latency, a memory latency, frame_latency), p50/p90/p99 in the legend; for a video
    stream's frame latency, its chunk deadline as a vertical line."""
    import numpy as np

    ax = _axes(ax)
    unit = ""
    for record, m in result.metrics():
        if m["name"] != metric or len(m.get("samples", [])) < 2 or (workload and record["workload"] != workload):
            continue
        xs = np.sort(np.asarray(m["samples"], dtype=float))
        ys = np.arange(1, len(xs) + 1) / len(xs)
        p50, p90, p99 = np.percentile(xs, [50, 90, 99])
        sim = m.get("source", "measured") != "measured"
        line, = ax.step(xs, ys, where="post", linestyle="--" if sim else "-",
                        label=f"{_label(record)}{_source_note(m)}: p50 {p50:.3g}, p90 {p90:.3g}, p99 {p99:.3g}")
        deadline = record.get("details", {}).get("stream", {}).get("chunk_deadline_ms")
        if metric == "frame_latency" and deadline is not None:
            ax.axvline(deadline, color=line.get_color(), linestyle=":", linewidth=1)
            ax.annotate(f"deadline {deadline:.4g} ms", (deadline, 0.02), fontsize=8, xytext=(2, 0),
                        textcoords="offset points")
        unit = m["unit"]
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"{metric} ({unit})")
    ax.set_ylabel("fraction at or below")
    if unit:
        ax.legend(fontsize=8)
    return ax


def frame_deadlines(result: Result, ax=None):
    """video.stream's frame latency against each stream's chunk deadline (latency_cdf of
    frame_latency)."""
    return latency_cdf(result, "frame_latency", "video.stream", ax)


def energy_per_op(result: Result, ax=None):
    """The energy workloads' per-operation figures (pJ/FLOP, pJ/op, pJ/MAC, pJ/B; gross), a bar
    per device, parameters and figure (the median; energy figures are slopes of fits, without
    a CI), on a log axis."""
    ax = _axes(ax)
    labels, values, modeled = [], [], []
    for record, m in result.metrics():
        name = m["name"]
        if not record["workload"].startswith("energy.") or not name.startswith("energy_per_") or name.endswith("_net"):
            continue
        if m["stats"].get("median") is None:
            continue
        labels.append(f"{_label(record)} {name} ({m['unit']}){_source_note(m)}")
        values.append(m["stats"]["median"])
        modeled.append(m.get("source", "measured") != "measured")
    _bars(ax, labels, values, modeled)
    if values and min(values) > 0:
        ax.set_xscale("log")
    ax.set_xlabel("energy per unit of work")
    return ax
