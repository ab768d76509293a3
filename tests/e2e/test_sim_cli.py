"""The simulated devices through the real CLI: listed but run only when named, side by side with
a measured device in one valid result, every simulated figure labelled and its description (with
sources) in the result, refusals with reasons, and a wrong description refused with its place."""
import os
from pathlib import Path

from conftest import FAST, load

DATA = Path(os.environ.get("XPB_TEST_DATA", Path(__file__).resolve().parents[1] / "data")) / "sim"
TINY_HC1 = DATA / "hc1-tiny.yaml"


def test_simulators_are_listed_and_run_only_when_named(cli, tmp_path):
    r = cli("list", "devices")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.strip().startswith("hc1-sim"))
    assert "simulated" in line and "--device hc1-sim" in line
    out = tmp_path / "r.json"
    r = cli("run", "llm.bench", "--set", "model=tiny", "--set", "n_gen=4", "--set", "roofline=off", *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    assert {b["device"] for b in load(out)["benchmarks"]} == {"cpu"}


def test_hc1_sim_sits_beside_the_cpu_labelled_simulated_with_its_sources(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "llm.bench", "--device", f"hc1-sim,description={TINY_HC1}", "--device", "cpu",
            "--set", "model=tiny", "--set", "dtype=f32", "--set", "n_gen=16", "--set", "check=on",
            "--set", "roofline=off", *FAST, "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tokens_per_second [simulated]" in r.stdout  # the table labels every simulated figure
    doc = load(out)
    by_device = {b["device"]: b for b in doc["benchmarks"]}
    assert set(by_device) == {"hc1-sim", "cpu"}
    hc1, cpu = by_device["hc1-sim"], by_device["cpu"]
    assert hc1["status"] == "passed" and cpu["status"] == "passed"
    assert hc1["metrics"][0]["source"] == "simulated" and cpu["metrics"][0]["source"] == "measured"
    assert hc1["energy"]["source"] == "modeled" and hc1["energy"]["joules_per_token"] > 0
    assert hc1["conformance"]["accuracy_cost"]["status"] == "measured"
    device = next(d for d in doc["devices"] if d["id"] == "hc1-sim")
    assert device["simulated"] and device["clock"] == "simulated"
    assert device["energy"]["available"] and device["energy"]["source"] == "modeled"
    sim = device["simulator"]
    assert sim["file"] == str(TINY_HC1) and sim["mode"] == "functional"
    assert sim["parameters"]["decode_tokens_per_s"]["kind"] == "claim"
    assert sim["parameters"]["decode_tokens_per_s"]["source"] in sim["sources"]
    assert cli("validate", out).returncode == 0


def test_the_hardwired_chip_refuses_other_models_and_simulates_its_own(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "llm.bench", "--device", "hc1-sim", "--set", "model=tiny", *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    b = load(out)["benchmarks"][0]
    assert b["status"] == "unsupported"
    assert "this HC1 hardwires Llama 3.1 8B" in b["reason"] and "got llama dim=64" in b["reason"]
    r = cli("run", "llm.bench", "--device", "hc1-sim", "--set", "model=llama-3.1-8b", "--set", "n_gen=1000",
            *FAST, "-o", out, timeout=120)
    assert r.returncode == 0, r.stderr
    b = load(out)["benchmarks"][0]
    assert b["status"] == "passed" and b["conformance"]["status"] == "skipped"
    assert 17000 < b["metrics"][0]["stats"]["median"] < 20000  # between the claimed rates


def test_a_wrong_description_is_an_input_error_naming_its_line(cli, tmp_path):
    bad = tmp_path / "chip.yaml"
    bad.write_text(TINY_HC1.read_text().replace("card_power_w: {value: 200, unit: W",
                                                "card_power_w: {value: 200, unit: kW"))
    r = cli("run", "llm.bench", "--device", f"hc1-sim,description={bad}", "-o", tmp_path / "r.json")
    assert r.returncode == 2
    assert f"{bad}:" in r.stderr and "is in W, not 'kW'" in r.stderr


def test_the_photonic_suite_sweeps_its_design_points_each_a_device(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "photonic", "--quick", "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load(out)
    ids = [b["device"] for b in doc["benchmarks"]]
    assert len(ids) == len(set(ids)) == 8 and "photonic-sim" in ids and "photonic-sim,dac_bits=6,adc_bits=6" in ids
    for b in doc["benchmarks"]:
        assert b["status"] == "passed", b
        assert b["metrics"][0]["source"] == "simulated" and b["energy"]["source"] == "modeled"
        assert b["conformance"]["accuracy_cost"]["status"] == "measured"
    by = {b["device"]: b for b in doc["benchmarks"]}
    # Fewer converter bits cost accuracy; a wider array costs less energy per token.
    assert (by["photonic-sim,dac_bits=6,adc_bits=6"]["conformance"]["rms_logit_error"]
            > by["photonic-sim,dac_bits=12,adc_bits=12"]["conformance"]["rms_logit_error"])
    assert (by["photonic-sim,array_rows=128,array_cols=128"]["energy"]["joules_per_token"]
            < by["photonic-sim"]["energy"]["joules_per_token"])
    sim = next(d for d in doc["devices"] if d["id"] == "photonic-sim,dac_bits=6,adc_bits=6")["simulator"]
    assert sim["parameters"]["dac_bits"] == {**sim["parameters"]["dac_bits"], "value": 6.0, "source": "device-option"}
    assert cli("validate", out).returncode == 0


def test_photonic_sim_refuses_memory_benchmarks_with_the_reason(cli, tmp_path):
    out = tmp_path / "r.json"
    r = cli("run", "memory.bandwidth", "--device", "photonic-sim", *FAST, "-o", out)
    assert r.returncode == 0, r.stderr
    b = load(out)["benchmarks"][0]
    assert b["status"] == "unsupported" and "models no memory system" in b["reason"]
