"""Plugins through the real CLI: broken ones listed with their reasons, crashes isolated into
failed records while the run goes on, `conform` with its JUnit report, and npu_ref running the
standard workloads."""
import os
from pathlib import Path

import pytest

from conftest import FAST, junit, load

PLUGINS = Path(os.environ.get("XPB_TEST_PLUGINS", ""))
SCHEMA = os.environ.get("XPB_SCHEMA")

pytestmark = pytest.mark.skipif(not (PLUGINS / "libxpubench-minimal.so").exists(),
                                reason="the test plugins are not built (XPB_TEST_PLUGINS)")


def plugin(name):
    return str(PLUGINS / f"libxpubench-{name}.so")


WRITE_1MIB = ["-s", "kernel=write", "-s", "array_bytes=1MiB", "-s", "threads=1", "-s", "dtype=f32"]


def test_broken_plugins_are_listed_with_their_reasons_and_list_goes_on(cli):
    args = []
    for name in ["broken_abi", "broken_short", "broken_no_entry", "broken_enumerate", "minimal"]:
        args += ["--plugin", plugin(name)]
    r = cli("list", "drivers", *args)
    assert r.returncode == 0, r.stderr
    assert "plugin ABI 99, newer than this xpubench's ABI 1" in r.stdout
    assert "too short: struct_size 16 bytes" in r.stdout
    assert "no symbol xpb_plugin_entry" in r.stdout
    assert "the NPU firmware is not loaded" in r.stdout
    r = cli("list", "devices", *args)
    assert "plugin:minimal" in r.stdout and "cpu" in r.stdout
    assert "plugin:broken_abi" not in r.stdout


def test_a_missing_plugin_file_is_a_warning_and_the_run_goes_on(cli, tmp_path):
    r = cli("run", "memory.bandwidth", *WRITE_1MIB, *FAST, "--device", "cpu",
            "--plugin", tmp_path / "nope.so", "-o", tmp_path / "r.json")
    assert r.returncode == 0, r.stderr
    assert "nope.so not loaded" in r.stderr


def test_plugin_path_folders_are_searched(cli, tmp_path):
    env = dict(os.environ, XPB_PLUGIN_PATH=f"{tmp_path}/empty:{PLUGINS}")
    r = cli("list", "devices", env=env)
    assert "plugin:minimal" in r.stdout and "plugin:broken_leak" in r.stdout


@pytest.mark.parametrize("name,why", [("broken_run_segv", "signal 11"), ("broken_run_abort", "signal 6"),
                                      ("broken_run_exit", "exited with status 3"),
                                      ("broken_run_hang", "did not finish within 2 s")])
def test_a_crashing_plugin_becomes_a_failed_record_and_the_next_benchmark_runs(cli, tmp_path, name, why):
    out = tmp_path / "r.json"
    r = cli("run", "memory.bandwidth", *WRITE_1MIB, *FAST, "--plugin", plugin(name), "--device", f"plugin:{name}",
            "--device", "cpu", "--isolate", "--isolate-timeout", "2", "-o", out)
    assert r.returncode == 1, r.stderr
    doc = load(out)
    assert doc["run"]["status"] == "complete"
    first, second = doc["benchmarks"]
    assert first["status"] == "failed" and why in first["reason"], first
    assert first["details"]["isolated"] is True
    assert second["device"] == "cpu" and second["status"] == "passed"
    assert cli("validate", out).returncode == 0


def test_isolation_keeps_the_device_clock(cli, tmp_path):
    """The same benchmark isolated and not: both figures come from the plugin's own clock."""
    figures = []
    for extra in ([], ["--isolate"]):
        out = tmp_path / f"r{len(figures)}.json"
        r = cli("run", "memory.bandwidth", *WRITE_1MIB, *FAST, "--plugin", plugin("minimal"),
                "--device", "plugin:minimal", *extra, "-o", out)
        assert r.returncode == 0, r.stderr
        b = load(out)["benchmarks"][0]
        assert b["status"] == "passed"
        figures.append(b["metrics"][0])
    assert figures[0]["source"] == figures[1]["source"] == "measured"
    assert figures[0]["unit"] == figures[1]["unit"] == "GB/s"


def test_conform_passes_what_a_plugin_claims_and_writes_junit(cli, tmp_path):
    r = cli("conform", "--device", "plugin:minimal", "--plugin", plugin("minimal"), "--ops-only",
            "--junit", tmp_path / "c.xml", "--json", tmp_path / "c.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED" in r.stdout
    assert "ABI contract:" in r.stdout and "releasing every handle gives the memory back" in r.stdout
    root = junit(tmp_path / "c.xml")
    assert root.get("failures") == "0"
    assert int(root.get("skipped")) > 0  # every op it does not claim
    report = load(tmp_path / "c.json")
    assert report["passed"] is True


def test_conform_fails_a_leaking_plugin_and_a_crashing_one(cli, tmp_path):
    r = cli("conform", "--device", "plugin:broken_leak", "--plugin", plugin("broken_leak"), "--ops-only",
            "--junit", tmp_path / "leak.xml")
    assert r.returncode == 1, r.stdout + r.stderr
    failures = [t for t in junit(tmp_path / "leak.xml").iter("testcase") if t.find("failure") is not None]
    assert [t.get("name") for t in failures] == ["releasing every handle gives the memory back"]
    r = cli("conform", "--device", "plugin:broken_run_segv", "--plugin", plugin("broken_run_segv"), "--ops-only",
            "--junit", tmp_path / "segv.xml")
    assert r.returncode == 1
    messages = [f.get("message") for f in junit(tmp_path / "segv.xml").iter("failure")]
    assert any("signal 11" in m for m in messages)


def test_conform_on_a_builtin_device(cli):
    r = cli("conform", "--device", "cpu", "--ops-only")
    assert r.returncode == 0, r.stdout
    assert "ABI contract" not in r.stdout
    assert "matmul          q4_0" in r.stdout


def test_conform_needs_an_existing_device(cli):
    r = cli("conform", "--device", "plugin:nothing")
    assert r.returncode == 2
    assert "no such device" in r.stderr


def npu_ref_available(cli):
    return "plugin:npu_ref" in cli("list", "devices").stdout


def test_npu_ref_passes_conform_with_every_workload_check(cli, tmp_path):
    if not npu_ref_available(cli):
        pytest.skip("npu_ref is not built")
    r = cli("conform", "--device", "plugin:npu_ref", "--junit", tmp_path / "npu.xml", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "workload checks:" in r.stdout
    assert "FAIL" not in r.stdout
    # q4_0 and bf16 are refused, not claimed: skipped, with the op and dtype named.
    assert "matmul          q4_0" in r.stdout and "not claimed" in r.stdout
    # The DiT ops are claimed and pass their cases, and video.stream's check against ref runs
    # (and passes) at dit-tiny: with f32 weights, not only bf16's refusal.
    for op in ("add_bias", "layer_norm", "modulate", "gated_add", "gelu", "silu", "cross_attention", "flow_step",
               "unpatchify"):
        assert f"ok   {op:<15} f32" in r.stdout, op
    video = {line.split("dtype=")[1].split(",")[0]: line for line in r.stdout.splitlines()
             if "video.stream/plugin:npu_ref/" in line}
    assert video["f32"].startswith("  ok ") and "(passed: " in video["f32"], video
    assert video["bf16"].startswith("  -- ") and "unsupported" in video["bf16"], video


def test_npu_ref_runs_the_quick_standard_suite(cli, tmp_path):
    if not npu_ref_available(cli):
        pytest.skip("npu_ref is not built")
    out = tmp_path / "npu.json"
    r = cli("run", "memory", "llm", "--quick", "--device", "plugin:npu_ref", "-o", out, timeout=900)
    assert r.returncode in (0, 1), r.stderr[-3000:]
    doc = load(out)
    statuses = {b["status"] for b in doc["benchmarks"]}
    assert "passed" in statuses
    assert "failed" not in statuses and "mistrusted" not in statuses, [
        (b["id"], b.get("reason")) for b in doc["benchmarks"] if b["status"] in ("failed", "mistrusted")]
    assert cli("validate", out).returncode == 0


def test_npu_ref_runs_video_stream_and_passes_its_check_against_ref(cli, tmp_path):
    if not npu_ref_available(cli):
        pytest.skip("npu_ref is not built")
    out = tmp_path / "v.json"
    r = cli("run", "video.stream", "--device", "plugin:npu_ref", "-s", "model=dit-tiny", "-s", "dtype=[f32,bf16]",
            "-s", "chunks=2", "-s", "check=on", "-o", out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    doc = load(out)
    f32, bf16 = doc["benchmarks"]
    assert f32["params"]["dtype"] == "f32" and f32["status"] == "passed", (f32["status"], f32.get("reason"))
    # Compared with ref, within the tolerance, and not vacuously: f32 sums against ref's f64
    # leave a small error that is not zero.
    check = f32["conformance"]
    assert check["status"] == "passed"
    assert 0 < check["rms_rel_error"] <= check["tolerance"]["rms_rel"], check
    metrics = {m["name"]: m for m in f32["metrics"]}
    assert metrics["ttff"]["source"] == "measured" and metrics["ttff"]["stats"]["median"] > 0
    assert metrics["sustained_fps"]["stats"]["median"] > 0
    # bf16 weights are not npu_ref's: refused as unsupported, naming what, never a failure.
    assert bf16["status"] == "unsupported" and "bf16" in bf16["reason"], bf16
    assert cli("validate", out).returncode == 0


def test_without_read_bytes_the_roofline_is_memory_bandwidth_measured_once_and_shared(cli, tmp_path):
    # npu_ref has no read_bytes: llm.bench falls back to memory.bandwidth's read, measured once
    # per device and thread count and carried by every record that used it.
    if not npu_ref_available(cli):
        pytest.skip("npu_ref is not built")
    out = tmp_path / "r.json"
    r = cli("run", "llm.bench", "--device", "plugin:npu_ref", "-s", "model=tiny", "-s", "dtype=[q8_0,f32]",
            "-s", "test=tg", "-s", "n_gen=4", "-s", "check=off", *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    roofs = [b["details"]["roofline"] for b in load(out)["benchmarks"]]
    assert len(roofs) == 2
    assert all("memory.bandwidth" in x["source"] for x in roofs), roofs
    assert roofs[0]["measurement"]["samples_gbps"] == roofs[1]["measurement"]["samples_gbps"]
