"""xpubench from Python: the devices and workloads there are, benchmarks run on them, results as
pandas DataFrames (DESIGN.md §2).

    import xpubench
    r = xpubench.run("memory.bandwidth", {"kernel": ["copy", "triad"], "threads": 1}, device="cpu")
    r.to_pandas()[["kernel", "metric", "median", "unit"]]

Every call goes to the same C++ library as the `xpubench` command line (python -m xpubench is
that command line). Bad input (an unknown parameter or device, a value out of range, a file that
is not a result) raises ValueError with the command line's message; Ctrl-C during a run stops it
within about 100 ms and raises Interrupted, which carries what was measured.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _core
from .result import Result

__all__ = ["Interrupted", "Result", "compare", "devices", "drivers", "load", "run", "sweep", "system", "validate",
           "workloads"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; `result` holds every benchmark finished before it (run status
    "interrupted")."""

    def __init__(self, result: Result):
        super().__init__(f"xpubench: run interrupted after {len(result)} benchmark(s)")
        self.result = result


def devices() -> List[Dict[str, Any]]:
    """Every device of every driver: dicts with `id` (what `device=` takes), `driver`, `name`,
    `kind` (cpu, gpu, npu, reference, simulator), `simulated`, `reference`, `properties`. A
    driver without devices is left out (drivers() says why)."""
    return [d for driver in drivers() for d in driver["devices"]]


def drivers() -> List[Dict[str, Any]]:
    """Every driver: `driver` (its name), `description`, `devices`, and `reason` (why it found
    no device; empty when it did)."""
    return json.loads(_core.devices_json())


def workloads() -> List[Dict[str, Any]]:
    """Every workload: `name`, `description`, and `params`, a list of {`name`, `help`,
    `default`, `choices`} (the parameters run() takes, as `xpubench list workloads` shows
    them)."""
    return json.loads(_core.workloads_json())


def system() -> Dict[str, Any]:
    """The machine, as results record it: CPU, ISA flags, topology (caches, NUMA nodes),
    memory, kernel, governor, THP, compiler and build."""
    return json.loads(_core.system_json())


def _plain(value):
    """numpy scalars and arrays (np.arange(1, 9), Series.unique()) as the Python values JSON
    takes."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a parameter value (a number, string, bool or list)")


def _json_text(value) -> str:
    try:
        return json.dumps(value, default=_plain)
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from None


def _device_list(device: Union[str, Sequence[str], None]) -> List[str]:
    if device is None:
        return []
    if isinstance(device, str):
        return [device]
    return list(device)


def run(workload: Union[str, Sequence[Dict[str, Any]]], params: Optional[Dict[str, Any]] = None,
        device: Union[str, Sequence[str], None] = None, policy: Optional[Dict[str, Any]] = None,
        output: Union[str, Path, None] = None, isolate: bool = False, isolate_timeout_s: float = 300,
        energy_meter: str = "", idle_seconds: float = 0,
        progress: Optional[Callable[[int, int, Dict[str, Any]], None]] = None) -> Result:
    """Runs `workload` with `params` on `device` and returns its Result.

    params: parameter name -> value; a list (or tuple, or numpy array) is a grid axis (every
        combination runs), as in a suite file. Parameters left out take their defaults
        (workloads() lists them).
    device: a device id ("cpu", "opencl:0", "hc1-sim,mode=timing-only"), a list of them, or
        None for every device a plain `xpubench run` uses.
    policy: the run policy (warmup_seconds, min_seconds, max_seconds, min_samples,
        max_samples, target_ci_relative, ...); None takes the workload's defaults.
    output: also write the document there (journaled as it runs, like `run -o`).
    isolate: run each benchmark on a plugin device in a child process (a crash fails the
        record, not Python).
    energy_meter, idle_seconds: as `--energy-meter` and `--idle-seconds`. The idle baseline
        is skipped by default here (0 s, where the CLI takes 2 s): energy figures are then
        gross only; give idle_seconds=2 for the net ones.
    progress: called as progress(index, total, record) after each benchmark; an exception it
        raises stops the run before the next benchmark and is raised from run(), with the
        Result so far as its `result` attribute.

    `workload` may also be a list of plan entries ({"workload", "params", "policy"}) to run
    several workloads in one Result.

    Raises ValueError for bad input (naming the entry and key, e.g. "plan[0].params.kernel"),
    Interrupted on Ctrl-C (with what was measured; on the main thread, where Python receives
    signals). The GIL is released while benchmarks run.
    """
    if isinstance(workload, str):
        entry: Dict[str, Any] = {"workload": workload, "params": dict(params or {})}
        if policy:
            entry["policy"] = dict(policy)
        plan: Any = [entry]
    else:
        if params is not None or policy is not None:
            raise ValueError("run(plan): params and policy go in the plan's entries")
        plan = list(workload)

    raised: List[BaseException] = []

    def callback(i, total, record_text):
        try:
            progress(i, total, json.loads(record_text))
        except BaseException as e:  # stops the run before the next benchmark; raised below
            raised.append(e)
            raise

    plan_text = _json_text(plan)
    command = ["python", "xpubench.run", plan_text]
    text, interrupted = _core.run_json(
        plan_text, _device_list(device), str(output or ""), command, float(idle_seconds), bool(isolate),
        float(isolate_timeout_s), energy_meter, threading.current_thread() is threading.main_thread(),
        callback if progress is not None else None)
    result = Result(json.loads(text))
    if interrupted:
        raise Interrupted(result)
    if raised:
        try:
            raised[0].result = result  # what was measured before it
        except AttributeError:
            pass
        raise raised[0]
    return result


def load(path: Union[str, Path]) -> Result:
    """The result in a file: a result document, or the journal of a run that did not finish
    (read as `xpubench validate` reads it). ValueError names the file, line and column of what
    is wrong."""
    # A whole document is read by Python's parser (2.5x faster than the library's read, dump
    # and parse again on 54 MB); a journal, or text that is not JSON, by the library, which
    # assembles journals and names the line and column of what is wrong.
    def refuse(constant):
        raise ValueError(f"{path}: {constant} is not JSON")

    try:
        with open(path, "rb") as f:
            doc = json.load(f, parse_constant=refuse)
        if isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list):
            return Result(doc)
    except (ValueError, UnicodeDecodeError, OSError):
        pass  # the library says what is wrong, in the command line's words
    return Result(json.loads(_core.load_json(str(path))))


def _document(r: Union[Result, str, Path, Dict[str, Any]]) -> Dict[str, Any]:
    if isinstance(r, Result):
        return r.document
    if isinstance(r, dict):
        return r
    return load(r).document


def compare(base: Union[Result, str, Path], new: Union[Result, str, Path], threshold_pct: float = 5.0,
            alpha: float = 0.05):
    """`xpubench compare` as a DataFrame: one row per benchmark x device x metric in both, with
    the medians, the change in the metric's direction (`change_pct`, + is better), the
    Mann-Whitney U p-value over the raw samples and the verdict (regression, improvement, noise,
    unknown, only in base, only in new). The summary (geometric mean, counts, warnings) is in
    the frame's `attrs["summary"]`."""
    import pandas as pd

    out = json.loads(_core.compare_json(_json_text(_document(base)), _json_text(_document(new)),
                                        float(threshold_pct), float(alpha)))
    frame = pd.DataFrame(out.get("rows", []))
    frame.attrs["summary"] = {k: v for k, v in out.items() if k != "rows"}
    return frame


def validate(r: Union[Result, str, Path, Dict[str, Any]]) -> List[str]:
    """The problems `xpubench validate` finds in a result (schema, run rules, integrity):
    "where: what" for each; empty when it is valid."""
    return list(_core.validate_json(_json_text(_document(r))))


from ._sweep import sweep  # noqa: E402  (it uses run and _device_list above)
