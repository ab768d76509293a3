"""Sweeps: every combination of a grid of parameters on every device, here or spread over a Dask
cluster (one task per benchmark), merged into one result document.

On Dask, a benchmark never shares its machine with another: tasks ask for the worker resource
`xpubench` when the workers offer it (start one worker per machine with `--resources
xpubench=1`), and every task also holds a lock file of its machine while it measures, so two
workers on one machine take turns. Each record carries the system it ran on. A worker lost
mid-sweep loses only the benchmark it was running, which Dask runs again on another worker (up
to the scheduler's `distributed.scheduler.allowed-failures`, 3 by default); a benchmark that
cannot be run (its workers lost more often than that, an exception) is recorded `failed` with
the reason, and the sweep goes on.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import tempfile
import uuid
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _core
from .result import Result

# The lock file that keeps one benchmark at a time on a machine, whatever the workers on it.
LOCK_FILE = os.path.join(tempfile.gettempdir(), "xpubench-benchmark.lock")


def _run_one(workload: str, params: Dict[str, Any], device: Optional[str], policy: Optional[Dict[str, Any]]) -> str:
    """One benchmark (on `device`, or every device the machine has) on a worker, with its
    machine to itself; its document as JSON text, each record carrying the system."""
    from . import run

    # Read-only is enough for flock, so the file another user made (mode 644) serves all; it is
    # created only when missing (O_CREAT on another user's file in sticky /tmp is refused where
    # fs.protected_regular is set).
    try:
        lock = os.open(LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        lock = os.open(LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = run(workload, {k: [v] if isinstance(v, list) else v for k, v in params.items()},
                     device=device, policy=policy)
    finally:
        os.close(lock)  # releases the lock
    doc = result.document
    for record in doc["benchmarks"]:
        record["system"] = doc["system"]
    return json.dumps(doc)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _failed_record(workload: str, params: Dict[str, Any], device: Optional[str], reason: str) -> Dict[str, Any]:
    shown = ",".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(params.items()))
    dev = device or "(every device)"
    return {"id": f"{workload}/{dev}/{shown}", "workload": workload, "device": dev, "params": params,
            "status": "failed", "reason": reason, "valid": False, "invalid_reason": "not measured: " + reason,
            "conformance": {}, "metrics": [], "timing": {},
            "energy": {"available": False, "reason": "not measured"}, "details": {}, "started": _now(),
            "wall_seconds": 0}


def _unopened_device(device: str, reason: str) -> Dict[str, Any]:
    return {"id": device, "driver": device.split(":")[0].split(",")[0], "name": "", "kind": "unknown",
            "simulated": False, "clock": "host", "properties": {"not_run": reason},
            "energy": {"available": False, "reason": "the device was not run: " + reason}}


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="benchmark")


def sweep(workload: str, grid: Dict[str, Any], devices: Union[str, Sequence[str], None] = None,
          policy: Optional[Dict[str, Any]] = None, client=None, progress: bool = True) -> Result:
    """Runs every point of `grid` (parameter -> list of values; their product) on every device
    of `devices` (ids; None: every device a plain run uses) and returns one Result.

    client: None runs here, one benchmark after the other (as run() does); a
        dask.distributed.Client runs one task per benchmark on its workers, at most one
        benchmark per machine at a time, and merges what they return into one document whose
        records each carry the `system` they ran on.
    progress: a tqdm bar when tqdm is installed.

    Raises ValueError (naming the key) for bad parameters before anything runs.
    """
    from . import _device_list, _json_text, run

    plan = [{"workload": workload, "params": dict(grid)}]
    if policy:
        plan[0]["policy"] = dict(policy)
    items = json.loads(_core.plan_json(_json_text(plan)))  # checked here, before any task
    device_list: List[Optional[str]] = list(_device_list(devices)) or [None]
    bar = _progress_bar(len(items) * len(device_list), progress)
    if client is None:
        try:
            def advance(i, n, record):
                bar.total = n  # every device's benchmarks, where devices=None
                bar.update(1)

            return run(workload, dict(grid), device=devices, policy=policy,
                       progress=advance if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
    return _sweep_on_dask(client, workload, items, device_list, policy, bar)


def _sweep_on_dask(client, workload, items, device_list, policy, bar) -> Result:
    from distributed import as_completed

    workers = client.scheduler_info().get("workers", {})
    resources = {"xpubench": 1} if any("xpubench" in w.get("resources", {}) for w in workers.values()) else None
    tasks = [(item["params"], device) for item in items for device in device_list]
    futures = {}
    for index, (params, device) in enumerate(tasks):
        future = client.submit(_run_one, workload, params, device, policy, pure=False, resources=resources,
                               key=f"xpubench-{uuid.uuid4().hex}")
        futures[future] = index
    documents: List[Optional[Dict[str, Any]]] = [None] * len(tasks)
    failures: Dict[int, str] = {}
    try:
        for future in as_completed(futures):
            index = futures[future]
            try:
                documents[index] = json.loads(future.result())
            except Exception as e:  # a worker lost twice (KilledWorker), an error on the worker
                failures[index] = f"{type(e).__name__}: {e}"
            if bar is not None:
                bar.update(1)
    except BaseException:  # Ctrl-C, or the client failing: the rest of the sweep is cancelled
        client.cancel(list(futures))
        raise
    finally:
        if bar is not None:
            bar.close()
    done = [d for d in documents if d is not None]
    if not done:
        raise RuntimeError("xpubench.sweep: no benchmark could be run: " + "; ".join(sorted(set(failures.values()))))
    header = json.loads(json.dumps({k: done[0][k] for k in ("run", "system", "devices")}))
    header["run"]["id"] = "sweep-" + uuid.uuid4().hex[:12]
    header["run"]["started"] = min(d["run"]["started"] for d in done)
    header["run"]["command"] = ["python", "xpubench.sweep", workload, json.dumps([i["params"] for i in items])]
    seen = {d["id"] for d in header["devices"]}
    for d in done:
        for dev in d["devices"]:
            if dev["id"] not in seen:
                seen.add(dev["id"])
                header["devices"].append(dev)
    records = []
    for index, (params, device) in enumerate(tasks):
        if documents[index] is not None:
            records.extend(documents[index]["benchmarks"])
            continue
        record = _failed_record(workload, params, device, failures[index])
        records.append(record)
        if record["device"] not in seen:  # a device no worker could open: listed, saying so
            seen.add(record["device"])
            header["devices"].append(_unopened_device(record["device"], failures[index]))
    text = _core.assemble_json(json.dumps(header), [json.dumps(r) for r in records], "complete")
    return Result(json.loads(text))
