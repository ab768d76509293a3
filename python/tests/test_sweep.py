"""Sweeps here and on a Dask LocalCluster of two worker processes: the same benchmarks as a
serial sweep, one valid merged document, one benchmark at a time per machine, a worker killed
mid-sweep, bad parameters refused before anything runs."""
import datetime
import os
import signal
import threading
import time

import pytest

import xpubench
from conftest import FAST

distributed = pytest.importorskip("distributed") if not os.environ.get("CI") else __import__("distributed")

GRID = {"kernel": ["copy", "triad"], "threads": [1, 2], "array_bytes": "1MiB"}


def test_a_sweep_here_is_a_run_of_its_grid():
    r = xpubench.sweep("memory.bandwidth", GRID, devices="cpu", policy=FAST, progress=False)
    assert len(r) == 4 and xpubench.validate(r) == []
    df = r.to_pandas()
    assert sorted(zip(df["kernel"], df["threads"])) == [("copy", 1), ("copy", 2), ("triad", 1), ("triad", 2)]


def test_bad_parameters_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="kernl"):
        xpubench.sweep("memory.bandwidth", {"kernl": ["copy"]}, devices="cpu", client=object())  # never used


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def interval(record):
    start = datetime.datetime.fromisoformat(record["started"].replace("Z", "+00:00")).timestamp()
    return start, start + record["wall_seconds"]


def test_a_sweep_on_two_workers_is_the_serial_sweep_in_one_valid_document(client):
    serial = xpubench.sweep("memory.bandwidth", GRID, devices="cpu", policy=FAST, progress=False)
    spread = xpubench.sweep("memory.bandwidth", GRID, devices="cpu", policy=FAST, client=client, progress=False)
    assert [b["id"] for b in spread.records] == [b["id"] for b in serial.records]  # grid order, not finish order
    assert xpubench.validate(spread) == []
    assert all(b["status"] == "passed" and b["system"]["hostname"] for b in spread.records)
    assert spread.document["run"]["id"].startswith("sweep-")
    # Both workers are on this machine: the machine's lock made them take turns.
    spans = sorted(interval(b) for b in spread.records)
    assert all(a[1] <= b[0] + 0.01 for a, b in zip(spans, spans[1:])), spans
    assert set(spread.to_pandas()["hostname"]) == {spread.records[0]["system"]["hostname"]}


def test_a_worker_killed_mid_sweep_loses_only_its_benchmark(client):
    pids = list(client.run(os.getpid).values())
    slow = {**FAST, "min_seconds": 0.8, "max_seconds": 0.8}

    def kill_one():
        time.sleep(1.2)  # the first benchmarks are running
        os.kill(pids[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_one)
    killer.start()
    r = xpubench.sweep("memory.bandwidth", GRID, devices="cpu", policy=slow, client=client, progress=False)
    killer.join()
    assert pids[0] not in client.run(os.getpid).values()  # it was killed (its nanny started another)
    assert len(r) == 4 and xpubench.validate(r) == []
    statuses = [b["status"] for b in r.records]
    # The lost benchmark ran again on the other worker, or says why it could not.
    assert all(s == "passed" or (s == "failed" and b["reason"]) for s, b in zip(statuses, r.records))
    assert statuses.count("passed") >= 3


def test_a_benchmark_that_fails_on_its_worker_is_recorded_failed_and_the_rest_kept(client):
    # A device the workers do not have: its tasks raise there; the cpu's pass.
    r = xpubench.sweep("memory.bandwidth", {"kernel": "copy", "threads": 1, "array_bytes": "1MiB"},
                       devices=["cpu", "no-such-device"], policy=FAST, client=client, progress=False)
    assert [b["status"] for b in r.records] == ["passed", "failed"]
    assert "no-such-device" in r.records[1]["reason"] and r.records[1]["reason"].startswith("ValueError")
    assert xpubench.validate(r) == []
    with pytest.raises(RuntimeError, match="no benchmark could be run"):
        xpubench.sweep("memory.bandwidth", {"kernel": "copy", "array_bytes": "1MiB"}, devices="no-such-device",
                       policy=FAST, client=client, progress=False)
