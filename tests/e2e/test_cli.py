"""The real xpubench CLI on small inputs: a run, bad input, interruption, validation."""
import json
import os
import signal
import time
from pathlib import Path

import jsonschema
import pytest

from conftest import FAST, load

SCHEMA = json.loads(Path(os.environ["XPB_SCHEMA"]).read_text())


def test_list_shows_drivers_workloads_and_suites(cli):
    r = cli("list")
    assert r.returncode == 0, r.stderr
    for word in ("ref", "cpu", "memory.bandwidth", "memory.latency", "memory.capacity", "standard"):
        assert word in r.stdout


def test_info_describes_the_machine_and_says_energy_is_unavailable_here(cli):
    r = cli("info")
    assert r.returncode == 0, r.stderr
    assert "cache" in r.stdout and "topology" in r.stdout
    if not Path("/sys/class/powercap").exists():
        assert "energy    rapl   unavailable: no powercap" in r.stdout
    j = json.loads(cli("info", "--json").stdout)
    assert j["system"]["topology"]["pus"] >= 1


def test_run_writes_a_valid_result_and_prints_a_summary(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "memory.bandwidth", "--device", "cpu", "--set", "kernel=[copy, triad]",
            "--set", "threads=1", "--set", "array_bytes=1MiB", *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    doc = load(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["run"]["status"] == "complete"
    assert [b["params"]["kernel"] for b in doc["benchmarks"]] == ["copy", "triad"]
    for b in doc["benchmarks"]:
        assert b["status"] == "passed"
        assert b["conformance"]["status"] == "passed"
        m = b["metrics"][0]
        assert m["unit"] == "GB/s" and m["source"] == "measured"
        assert len(m["samples"]) == m["stats"]["n"] >= 1
        assert b["energy"]["available"] is False and b["energy"]["reason"]
    assert not Path(str(out) + ".journal").exists()
    assert "median" in r.stdout and "GB/s" in r.stdout and "passed" in r.stdout
    v = cli("validate", out)
    assert v.returncode == 0, v.stdout
    assert "valid xpubench.result/1" in v.stdout


def test_bad_yaml_names_file_line_and_column(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: bad\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: copy\n")
    r = cli("run", bad, "-o", tmp_path / "x.json")
    assert r.returncode == 2
    assert f"{bad}:5:1:" in r.stderr
    bad.write_text("suite: bad\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: sum}\n")
    r = cli("run", bad, "-o", tmp_path / "x.json")
    assert r.returncode == 2
    assert f"{bad}:4:22: parameter 'kernel' of memory.bandwidth is \"sum\", expected one of" in r.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("target, setting, message", [
    ("memory.bandwidth", "threads", "expected key=value"),
    ("memory.bandwidth", "nosuch=1", "no selected workload has a parameter 'nosuch'"),
    ("memory.bandwidth", "threads=lots", "parameter 'threads' expects a thread count"),
    ("memory.bandwidth", "threads=99999999999999999999", "parameter 'threads' expects a thread count"),
    ("memory.bandwidth", "array_bytes=big", "expected a size like 4096"),
    ("memory.bandwidth", "policy.max_seconds=-1", "expects a finite non-negative number"),
    ("memory.bandwidth", "policy.max_seconds=1e400", "expects a finite non-negative number"),
    ("memory.latency", "chains=0", "parameter 'chains': expected a whole number in [1, 1024], got 0"),
    ("memory.latency", "size=1e30", "expected a size"),
    ("memory.sweep", "size=64", "at least 128 bytes"),
    ("memory.capacity", "seed=abc", "parameter 'seed': expected a whole number in [0,"),
])
def test_bad_set_is_a_usage_error(cli, tmp_path, target, setting, message):
    r = cli("run", target, "--set", setting, "-o", tmp_path / "x.json")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_unknown_device_or_suite_is_a_usage_error(cli, tmp_path):
    r = cli("run", "memory.bandwidth", "--device", "gpu:3", "-o", tmp_path / "x.json")
    assert r.returncode == 2 and "no such device" in r.stderr
    r = cli("run", "nosuchsuite", "-o", tmp_path / "x.json")
    assert r.returncode == 2 and "neither a suite" in r.stderr
    r = cli("frobnicate")
    assert r.returncode == 2


def start_long_run(cli, out):
    """A run of many short benchmarks; returns once at least one is journaled."""
    p = cli.popen("run", "memory.bandwidth", "--device", "cpu", "--set", "array_bytes=1MiB",
                  "--set", "kernel=[copy, scale, add, triad, read, write]", "--set", "threads=1",
                  "--set", "policy.min_seconds=0.5", "--set", "policy.max_seconds=0.5", "-o", out)
    journal = Path(str(out) + ".journal")
    deadline = time.time() + 60
    while time.time() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            return p, journal
        time.sleep(0.05)
    p.kill()
    pytest.fail("no benchmark was journaled within 60 s")


def test_ctrl_c_keeps_what_was_measured(cli, tmp_path):
    out = tmp_path / "int.json"
    p, journal = start_long_run(cli, out)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    doc = load(out)
    assert doc["run"]["status"] == "interrupted"
    assert 1 <= len(doc["benchmarks"]) < 6
    assert doc["benchmarks"][0]["status"] == "passed"
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert not journal.exists()


def test_a_killed_run_leaves_a_journal_that_loads_as_incomplete(cli, tmp_path):
    out = tmp_path / "killed.json"
    p, journal = start_long_run(cli, out)
    p.kill()
    p.wait(timeout=30)
    assert journal.exists() and not out.exists()
    v = cli("validate", journal)
    assert v.returncode == 0, v.stdout
    assert "run incomplete" in v.stdout


def test_validate_detects_a_tampered_figure(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "memory.bandwidth", "--device", "cpu", "--set", "threads=1", "--set", "array_bytes=1MiB",
            *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    doc = load(out)
    doc["benchmarks"][0]["metrics"][0]["stats"]["median"] *= 1.5
    tampered = tmp_path / "t.json"
    tampered.write_text(json.dumps(doc))
    v = cli("validate", tampered)
    assert v.returncode == 1
    assert "/benchmarks/0/metrics/0" in v.stdout


def test_validate_rejects_files_that_are_not_results(cli, tmp_path):
    f = tmp_path / "notjson.json"
    f.write_text("{\n  \"schema\": \n")
    r = cli("validate", f)
    assert r.returncode == 2
    assert f"{f}:3:" in r.stderr or f"{f}:2:" in r.stderr


def test_validate_goes_on_past_an_unreadable_file(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "memory.bandwidth", "--device", "cpu", "--device", "cpu:0", "--set", "threads=1",
            "--set", "array_bytes=1MiB", *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    assert len(load(out)["devices"]) == 1  # the same device named twice runs once
    missing = tmp_path / "missing.json"
    v = cli("validate", missing, out)
    assert v.returncode == 2
    assert str(missing) in v.stderr
    assert f"{out}: valid xpubench.result/1" in v.stdout


def test_output_that_cannot_be_written_is_refused_before_running(cli, tmp_path):
    r = cli("run", "memory.bandwidth", "-o", tmp_path)
    assert r.returncode == 2 and "is a directory" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = cli("run", "memory.bandwidth", "-o", blocker / "sub" / "r.json")
    assert r.returncode == 2 and "cannot create the directory" in r.stderr


def test_missing_output_directories_are_made(cli, tmp_path):
    out = tmp_path / "new" / "dir" / "r.json"
    r = cli("run", "memory.bandwidth", "--device", "cpu", "--set", "threads=1", "--set", "array_bytes=1MiB",
            *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    assert load(out)["run"]["status"] == "complete"


def test_a_multi_stage_record_without_energy_validates(cli, tmp_path):
    """memory.sweep at one size measures two stages (bandwidth, latency); with no energy sensor
    its record says unavailable, with no note about stages, and the document validates."""
    out = tmp_path / "sweep.json"
    r = cli("run", "memory.sweep", "--set", "size=1MiB", *FAST, "--device", "ref", "-o", out)
    assert r.returncode == 0, r.stderr
    b = load(out)["benchmarks"][0]
    assert len(b["timing"]["stages"]) == 2
    if not b["energy"]["available"]:
        assert "note" not in b["energy"]
    assert cli("validate", out).returncode == 0


def test_no_opencl_platform_is_a_reason_and_the_run_goes_on(cli, tmp_path):
    """An empty ICD vendor folder: the opencl driver says why it has no device, a run on the
    default devices goes on without it, and naming opencl:0 is an input error with the reason."""
    empty = tmp_path / "vendors"
    empty.mkdir()
    env = dict(os.environ, OCL_ICD_VENDORS=str(empty))
    r = cli("list", "drivers", env=env)
    if "opencl" not in r.stdout:
        pytest.skip("the opencl driver is not built")
    assert "no OpenCL platform" in r.stdout, r.stdout
    out = tmp_path / "r.json"
    r = cli("run", "memory.bandwidth", "--set", "array_bytes=1MiB", "--set", "threads=1", *FAST, "-o", out, env=env)
    assert r.returncode == 0, r.stderr
    assert {d["driver"] for d in load(out)["devices"]} == {"cpu"}
    r = cli("run", "memory.bandwidth", "--device", "opencl:0", "-o", tmp_path / "x.json", env=env)
    assert r.returncode == 2
    assert "no OpenCL platform" in r.stderr


def test_the_opencl_device_runs_the_memory_bandwidth_workload(cli, tmp_path):
    """With the machine's real ICD vendors (PoCL in CI): opencl:0 is listed, runs STREAM kernels
    with every element checked, on its event-profiling clock, and the result validates."""
    env = dict(os.environ)
    env.pop("OCL_ICD_VENDORS", None)
    if "opencl" not in cli("list", "devices", env=env).stdout:
        pytest.skip("no OpenCL device here")
    out = tmp_path / "ocl.json"
    r = cli("run", "memory.bandwidth", "--set", "kernel=[copy,triad,read]", "--set", "array_bytes=4MiB", *FAST,
            "--device", "opencl:0", "-o", out, env=env)
    assert r.returncode == 0, r.stderr
    doc = load(out)
    assert [d["clock"] for d in doc["devices"]] == ["device_events"]
    assert all(b["status"] == "passed" for b in doc["benchmarks"]), [b.get("reason") for b in doc["benchmarks"]]
    assert all(m["source"] == "measured" for b in doc["benchmarks"] for m in b["metrics"])
    assert cli("validate", out).returncode == 0


def test_transfers_launches_and_compute_on_opencl_say_which_clock_and_what_the_figure_is(cli, tmp_path):
    """memory.transfer and memory.launch are timed on the host clock, compute.peak on the
    device's events; a device on host memory (PoCL) has its transfers labelled zero-copy, never
    a transfer rate; the GPU kernels run on it too (kernels=gpu); and the result validates."""
    env = dict(os.environ)
    env.pop("OCL_ICD_VENDORS", None)
    if "opencl" not in cli("list", "devices", env=env).stdout:
        pytest.skip("no OpenCL device here")
    out = tmp_path / "ocl.json"
    r = cli("run", "memory.transfer", "memory.launch", "compute.peak", "--set", "bytes=4MiB",
            "--set", "host_memory=[pageable,pinned]", "--set", "elements=65536", "--set", "chain=64", *FAST,
            "--device", "opencl:0", "-o", out, env=env)
    assert r.returncode == 0, r.stderr
    doc = load(out)
    zero_copy = doc["devices"][0]["properties"]["host_unified_memory"] == "true"
    by = {}
    for b in doc["benchmarks"]:
        assert b["status"] == "passed", b.get("reason")
        by.setdefault(b["workload"], []).append(b)
    assert {b["timing"]["clock"]["kind"] for b in by["memory.transfer"] + by["memory.launch"]} == {"host"}
    assert {b["timing"]["clock"]["kind"] for b in by["compute.peak"]} == {"device_events"}
    assert all("host_samples_s" in b["timing"] for b in by["compute.peak"])
    names = {m["name"] for b in by["memory.transfer"] for m in b["metrics"]}
    assert names == ({"host_copy_bandwidth"} if zero_copy else {"transfer_bandwidth"})
    assert cli("validate", out).returncode == 0
    gpu = tmp_path / "gpu.json"
    r = cli("run", "memory.bandwidth", "--set", "kernel=read", "--set", "dtype=f32", "--set", "array_bytes=4MiB", *FAST,
            "--device", "opencl:0,kernels=gpu", "-o", gpu, env=env)
    assert r.returncode == 0, r.stderr
    assert load(gpu)["devices"][0]["properties"]["kernels"].startswith("gpu")


def test_the_opencl_device_passes_conform_with_the_llm_checks(cli, tmp_path):
    """Every op x dtype case and every workload check of suites/conform.yaml, the Llama decoder
    in all five weight formats included, on the machine's OpenCL device (PoCL in CI)."""
    env = dict(os.environ)
    env.pop("OCL_ICD_VENDORS", None)
    if "opencl" not in cli("list", "devices", env=env).stdout:
        pytest.skip("no OpenCL device here")
    r = cli("conform", "--device", "opencl:0", "--junit", tmp_path / "ocl.xml", env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "FAIL" not in r.stdout
    assert "llm.bench/opencl" in r.stdout and "dtype=q4_0" in r.stdout
