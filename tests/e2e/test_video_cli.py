"""video.stream through the real CLI: a stream on the cpu beside the simulators in one valid
result, its frames-against-deadline figures, what the record says it covers, the hardwired
chip's refusal, and bad parameters refused before anything runs."""
from conftest import load


def test_a_stream_on_the_cpu_and_the_simulators_in_one_valid_result(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "video.stream", "--device", "cpu", "--device", "photonic-sim", "--device", "hc1-sim",
            "--set", "model=dit-tiny", "--set", "chunks=3", "--set", "threads=1", "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "frame_latency [simulated]" in r.stdout
    doc = load(out)
    by_device = {b["device"]: b for b in doc["benchmarks"]}
    cpu, photonic, hc1 = by_device["cpu"], by_device["photonic-sim"], by_device["hc1-sim"]
    assert cpu["status"] == "passed" and cpu["conformance"]["status"] == "passed"
    metrics = {m["name"]: m for m in cpu["metrics"]}
    for name in ("ttff", "frame_latency", "sustained_fps", "deadline_miss_rate", "chunk_device_time",
                 "chunk_e2e_time", "gflops"):
        assert metrics[name]["source"] == "measured", name
    # 3 chunks of 2 latent frames: 5, 8 and 8 output frames, one latency value each.
    assert len(metrics["frame_latency"]["samples"]) == 21
    assert cpu["details"]["stream"]["not_covered"].startswith("VAE decoding")
    assert cpu["details"]["kv_cache"]["bytes"] > 0
    assert photonic["status"] == "passed"
    # Time on the simulated clock; energy from the device's model (J/frame).
    assert all(m["source"] == ("modeled" if m["name"].startswith("energy_") else "simulated")
               for m in photonic["metrics"])
    assert any(m["name"] == "energy_per_frame" and m["unit"] == "J/frame" for m in photonic["metrics"])
    assert hc1["status"] == "unsupported" and "hardwires" in hc1["reason"]
    r = cli("validate", out)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_parameters_exit_2_naming_them(cli, tmp_path):
    for key, value in (("model", "nope"), ("fps", "0"), ("dtype", "q4_K")):
        r = cli("run", "video.stream", "--set", f"{key}={value}", "-o", tmp_path / "r.json")
        assert r.returncode == 2, (key, r.stdout + r.stderr)
        assert key in r.stderr or value in r.stderr, r.stderr
