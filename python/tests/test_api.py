"""The package's API on real devices (cpu, the simulators): what there is, a run and its
DataFrame, files, comparison, validation, and the errors a user makes."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import xpubench
from conftest import FAST


def test_devices_workloads_and_system_say_what_there_is():
    ids = {d["id"]: d for d in xpubench.devices()}
    assert {"cpu", "ref", "hc1-sim", "photonic-sim"} <= set(ids)
    assert ids["hc1-sim"]["simulated"] and not ids["cpu"]["simulated"]
    assert ids["ref"]["reference"]
    specs = {w["name"]: w for w in xpubench.workloads()}
    kernel = next(p for p in specs["memory.bandwidth"]["params"] if p["name"] == "kernel")
    assert {"copy", "triad"} <= set(kernel["choices"]) and kernel["help"]
    caches = xpubench.system()["topology"]["caches"]
    assert caches and all(c["size_bytes"] > 0 for c in caches)


def test_a_run_is_a_result_with_a_tidy_dataframe():
    r = xpubench.run("memory.bandwidth", {"kernel": ["copy", "triad"], "threads": 1, "array_bytes": "1MiB"},
                     device="cpu", policy=FAST)
    assert r.status == "complete" and len(r) == 2
    df = r.to_pandas()
    assert list(df.columns[:7]) == ["run_id", "hostname", "benchmark_id", "workload", "device", "status", "valid"]
    assert {"kernel", "threads", "array_bytes", "metric", "unit", "source", "median", "ci95_lo", "ci95_hi", "cv",
            "n"} <= set(df.columns)
    assert list(df["kernel"]) == ["copy", "triad"]
    assert set(df["unit"]) == {"GB/s"} and set(df["source"]) == {"measured"}
    assert (df["median"] > 0).all() and (df["n"] >= 3).all()
    # The statistics are the document's, and the samples behind them are there.
    samples = r.samples("memory.bandwidth", "bandwidth", kernel="copy")
    assert len(samples) == 1 and len(samples[0]) == df["n"][0]
    assert sorted(samples[0])[len(samples[0]) // 2] == pytest.approx(df["median"][0], rel=0.5)
    with_samples = r.to_pandas(samples=True)
    assert len(with_samples["samples"][0]) == df["n"][0]
    assert xpubench.validate(r) == []


def test_the_reference_device_runs_from_python_too():
    r = xpubench.run("memory.bandwidth", {"kernel": "copy", "threads": 1, "array_bytes": "64KiB"}, device="ref",
                     policy=FAST)
    df = r.to_pandas()
    assert list(df["device"]) == ["ref"] and df["status"][0] == "passed" and df["median"][0] > 0


def test_simulated_figures_say_so():
    r = xpubench.run("energy.compute", {"kernel": "matmul", "rows": 16, "k": 64, "n": 64},
                     device="photonic-sim,mode=timing-only", policy=FAST)
    df = r.to_pandas()
    assert len(df) > 0 and set(df["source"]) <= {"simulated", "modeled"}
    assert "energy_per_mac" in set(df["metric"])


def test_a_record_without_figures_is_one_row_with_its_status():
    r = xpubench.run("memory.bandwidth", {"kernel": "copy", "array_bytes": "1MiB"}, device="hc1-sim", policy=FAST)
    df = r.to_pandas()
    assert len(df) == 1 and df["status"][0] == "unsupported" and df["metric"].isna().all()


def test_bad_input_is_a_value_error_naming_the_key():
    with pytest.raises(ValueError, match=r"plan\[0\]\.params: unknown parameter 'kernl'"):
        xpubench.run("memory.bandwidth", {"kernl": "copy"}, device="cpu")
    with pytest.raises(ValueError, match="kernel"):
        xpubench.run("memory.bandwidth", {"kernel": "cpoy"}, device="cpu")
    with pytest.raises(ValueError, match="no-such-device"):
        xpubench.run("memory.bandwidth", {"kernel": "copy"}, device="no-such-device")
    with pytest.raises(ValueError, match="no-such.workload"):
        xpubench.run("no-such.workload", {}, device="cpu")


def test_files_round_trip_and_a_bad_file_names_itself(tmp_path):
    out = tmp_path / "r.json"
    r = xpubench.run("memory.bandwidth", {"kernel": "copy", "threads": 1, "array_bytes": "1MiB"}, device="cpu",
                     policy=FAST, output=out)
    again = xpubench.load(out)
    assert again.document == json.loads(out.read_text()) and len(again) == 1
    assert json.loads(r.to_json(tmp_path / "copy.json")) == json.loads((tmp_path / "copy.json").read_text())
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": [\n  {"id": 1,,}\n]}')
    with pytest.raises(ValueError, match=r"bad\.json:2"):
        xpubench.load(bad)
    with pytest.raises(ValueError, match="missing.json: cannot read"):  # the command line's words
        xpubench.load(tmp_path / "missing.json")


def test_compare_of_a_result_with_itself_is_noise_and_a_halving_a_regression():
    r = xpubench.run("memory.bandwidth", {"kernel": "copy", "threads": 1, "array_bytes": "1MiB"}, device="cpu",
                     policy={**FAST, "min_samples": 8})
    same = xpubench.compare(r, r)
    assert list(same["verdict"]) == ["noise"]
    slow = json.loads(json.dumps(r.document))
    slow.pop("integrity", None)
    m = slow["benchmarks"][0]["metrics"][0]
    m["samples"] = [s / 2 for s in m["samples"]]
    for k, v in m["stats"].items():
        if k not in ("n", "cv") and isinstance(v, float):
            m["stats"][k] = v / 2
    c = xpubench.compare(r, xpubench.Result(slow))
    assert list(c["verdict"]) == ["regression"] and c["change_pct"][0] == pytest.approx(-50, abs=1)
    assert "summary" in c.attrs


def test_the_gil_is_released_while_a_benchmark_runs():
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    start = time.monotonic()
    xpubench.run("memory.bandwidth", {"kernel": "copy", "threads": 1, "array_bytes": "1MiB"}, device="cpu",
                 policy={**FAST, "min_seconds": 0.5, "max_seconds": 0.6})
    done.set()
    t.join()
    during = [x for x in ticks if x > start + 0.1]
    assert len(during) > 10  # the other thread ran all along


def test_progress_is_called_for_each_benchmark_and_its_exception_stops_the_run():
    seen = []
    xpubench.run("memory.bandwidth", {"kernel": ["copy", "scale"], "threads": 1, "array_bytes": "1MiB"},
                 device="cpu", policy=FAST, progress=lambda i, n, rec: seen.append((i, n, rec["status"])))
    assert seen == [(0, 2, "passed"), (1, 2, "passed")]

    def boom(i, n, rec):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here") as stopped:
        xpubench.run("memory.bandwidth", {"kernel": ["copy", "scale", "add"], "threads": 1, "array_bytes": "1MiB"},
                     device="cpu", policy=FAST, progress=boom)
    # Stopped before the next benchmark, not during it; what ran is kept.
    assert [r["status"] for r in stopped.value.result.records] == ["passed"]


def test_numpy_values_are_parameter_values():
    np = pytest.importorskip("numpy")
    r = xpubench.run("memory.bandwidth", {"kernel": "copy", "threads": np.arange(1, 3), "array_bytes": "1MiB"},
                     device="cpu", policy=FAST)
    assert list(r.to_pandas()["threads"]) == [1, 2]
    with pytest.raises(ValueError, match="not a parameter value"):
        xpubench.run("memory.bandwidth", {"kernel": object()}, device="cpu")


def test_ctrl_c_stops_the_run_and_keeps_what_was_measured(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(
        "import sys, xpubench\n"
        "try:\n"
        "    xpubench.run('memory.bandwidth', {'kernel': ['copy', 'scale', 'add', 'triad'], 'threads': 1,\n"
        "                 'array_bytes': '1MiB'}, device='cpu',\n"
        "                 policy={'min_seconds': 2, 'max_seconds': 2, 'min_samples': 3},\n"
        "                 progress=lambda i, n, r: print('done', i, flush=True))\n"
        "except xpubench.Interrupted as e:\n"
        "    print('interrupted', e.result.status, [r['status'] for r in e.result.records], flush=True)\n"
        "    sys.exit(130)\n")
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=os.environ)
    assert p.stdout.readline().strip() == "done 0"  # one benchmark finished, the second running
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 130, out
    # Within ~100 ms of the signal (3 s of slack for a loaded machine), not after the three 2 s
    # benchmarks left.
    assert time.monotonic() - start < 4
    # The finished benchmark kept; the one in progress (if the signal came during it, not
    # between the two) recorded as interrupted; none of the two after it.
    assert ("interrupted interrupted ['passed']" in out or "interrupted interrupted ['passed', 'interrupted']" in out), out


def test_python_m_xpubench_is_the_command_line():
    r = subprocess.run([sys.executable, "-m", "xpubench", "list", "devices"], capture_output=True, text=True,
                       env=os.environ, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "hc1-sim" in r.stdout and "cpu" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "xpubench", "run", "memory.bandwidth", "--set", "kernl=copy"],
                         capture_output=True, text=True, env=os.environ, timeout=60)
    assert bad.returncode == 2 and "kernl" in bad.stderr
