"""The llm workloads through the real CLI: a preset exported as GGUF and run from the file,
the quick llm suite, and a broken model file refused with its name."""
import json

from conftest import FAST, load


def test_exported_model_runs_from_its_file_and_checks_against_ref(cli, tmp_path):
    model = tmp_path / "tiny.gguf"
    r = cli("model", "export", "--preset", "tiny", "--dtype", "q8_0", "-o", model)
    assert r.returncode == 0, r.stderr
    assert model.stat().st_size > 0
    out = tmp_path / "r.json"
    r = cli("run", "llm.bench", "--set", f"model={model}", "--set", "test=[pp,tg]", "--set", "n_prompt=16",
            "--set", "n_gen=8", "--set", "roofline=off", *FAST, "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load(out)
    assert [b["params"]["test"] for b in doc["benchmarks"]] == ["pp", "tg"]
    for b in doc["benchmarks"]:
        assert b["status"] == "passed"
        assert b["params"]["dtype"] == "q8_0"  # the file's own dtype is recorded
        assert b["conformance"]["status"] == "passed"
        assert b["metrics"][0]["name"] == "tokens_per_second"
        assert b["details"]["model"]["origin"] == str(model)
    assert cli("validate", out).returncode == 0


def test_quick_llm_suite_writes_a_valid_result(cli, tmp_path):
    out = tmp_path / "llm.json"
    r = cli("run", "llm", "--quick", "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = load(out)
    names = {b["workload"] for b in doc["benchmarks"]}
    assert names == {"llm.bench", "llm.serving"}
    # Everything passes, but for weight formats a device does not run (the opencl driver: the
    # GGUF block formats beyond q8_0 and q4_0), which it refuses by name.
    for b in doc["benchmarks"]:
        if b["status"] == "unsupported":
            assert b["device"] != "cpu" and f"on {b['params']['dtype']} is not supported" in b["reason"], b["reason"]
        else:
            assert b["status"] == "passed", (b["id"], b["status"], b["reason"])
    serving = next(b for b in doc["benchmarks"] if b["workload"] == "llm.serving")
    assert {m["name"] for m in serving["metrics"]} >= {"ttft", "tpot", "itl", "e2e_latency", "goodput"}
    assert cli("validate", out).returncode == 0


def test_a_broken_model_file_is_an_input_error_naming_it(cli, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16)
    r = cli("run", "llm.bench", "--set", f"model={bad}", "-o", tmp_path / "x.json")
    assert r.returncode == 2
    assert str(bad) in r.stderr
    r = cli("model", "export", "--preset", "nope", "-o", tmp_path / "n.gguf")
    assert r.returncode == 2
    assert "unknown preset 'nope'" in r.stderr


def test_model_run_prints_greedy_tokens_and_writes_every_steps_logits(cli, tmp_path):
    model = tmp_path / "tq.gguf"
    assert cli("model", "export", "--preset", "tiny-qwen2", "--dtype", "q4_K", "-o", model).returncode == 0
    out = tmp_path / "run.json"
    r = cli("model", "run", model, "--device", "cpu", "--tokens", "1,10,20", "--n", "5", "--json", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert set(doc) == {"model", "device", "prompt", "tokens", "logits"}
    assert doc["prompt"] == [1, 10, 20] and len(doc["tokens"]) == 5 and doc["device"] == "cpu"
    # logits[i] is the whole vocabulary row that chose tokens[i].
    assert all(len(row) == 320 for row in doc["logits"])
    assert all(max(range(320), key=row.__getitem__) == t for row, t in zip(doc["logits"], doc["tokens"]))
    assert " ".join(map(str, doc["tokens"])) in r.stdout
    # The same file on ref: the same first token (the logits differ only by activation rounding).
    r = cli("model", "run", model, "--device", "ref", "--tokens", "1,10,20", "--n", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[1].strip() == str(doc["tokens"][0])


def test_model_run_and_export_refuse_bad_input_by_name(cli, tmp_path):
    r = cli("model", "run", "tiny", "--tokens", "1,99999", "--n", "2")
    assert r.returncode == 2 and "token 2 (99999) is outside the vocabulary of 256" in r.stderr
    r = cli("model", "run", "tiny", "--tokens", "1,x", "--n", "2")
    assert r.returncode == 2 and "--tokens item 2" in r.stderr
    # A simulator that computes no outputs has no logits to give.
    r = cli("model", "run", "tiny", "--device", "photonic-sim,mode=timing-only", "--tokens", "1,2", "--n", "2")
    assert r.returncode == 2 and "computes no logits" in r.stderr
    # K-quants need rows of whole super-blocks: tiny's 64 values are not.
    r = cli("model", "export", "--preset", "tiny", "--dtype", "q4_K", "-o", tmp_path / "t.gguf")
    assert r.returncode == 2 and "multiples of 256 for q4_K" in r.stderr
    r = cli("model", "export", "--preset", "tiny", "--dtype", "q4_K_M", "-o", tmp_path / "t.gguf")
    assert r.returncode == 2 and "unknown dtype 'q4_K_M'" in r.stderr
