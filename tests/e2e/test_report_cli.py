"""Reports, comparison and integrity through the real CLI: report --format, run --report,
compare (and its gate), keygen / sign / verify."""
import csv
import json

from conftest import FAST, junit, load


def bandwidth_run(cli, out, *extra):
    r = cli("run", "memory.bandwidth", "--device", "cpu", "--set", "threads=1", "--set", "array_bytes=1MiB",
            "--set", "kernel=[copy,triad]", *FAST, "-o", out, *extra)
    assert r.returncode == 0, r.stderr
    return load(out)


def test_run_writes_reports_beside_the_result_and_report_renders_them_again(cli, tmp_path):
    out = tmp_path / "r.json"
    bandwidth_run(cli, out, "--report", "md", "--report", "csv", "--report", "junit")
    md = (tmp_path / "r.md").read_text()
    assert "| memory.bandwidth" in md and "bandwidth" in md
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert {row["statistic"] for row in rows} >= {"n", "median"}
    assert all(row["workload"] == "memory.bandwidth" for row in rows)
    assert len(list(junit(tmp_path / "r.junit.xml").iter("testcase"))) == 2
    again = cli("report", out, "--format", "csv")
    assert again.returncode == 0 and again.stdout == (tmp_path / "r.csv").read_text()
    bad = cli("report", out, "--format", "pdf")
    assert bad.returncode == 2 and "expected md, csv, html or junit" in bad.stderr


def test_junit_of_every_status_and_hostile_strings_meets_the_junit_schema(cli, tmp_path):
    doc = bandwidth_run(cli, tmp_path / "r.json")
    doc.pop("integrity", None)
    doc["run"]["started"] = ""  # no timestamp rather than an empty one
    template = doc["benchmarks"][0]
    doc["benchmarks"] = []
    for i, status in enumerate(["passed", "failed", "mistrusted", "invalid", "interrupted", "skipped", "unsupported"]):
        b = json.loads(json.dumps(template))
        b["id"] += f",case={i}"
        b["status"], b["reason"] = status, 'a <b>"reason"</b> & \x01 control'
        b["device"] = "npu<&>\"'"
        b["valid"] = status == "passed"
        b["invalid_reason"] = "" if b["valid"] else "2 of 6 samples"
        doc["benchmarks"].append(b)
    (tmp_path / "every.json").write_text(json.dumps(doc))
    r = cli("report", tmp_path / "every.json", "--format", "junit", "-o", tmp_path / "every.xml")
    assert r.returncode == 0, r.stderr
    suite = junit(tmp_path / "every.xml").find("testsuite")
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "2", "2")
    assert suite.get("timestamp") is None
    messages = [e.get("message") for e in suite.iter() if e.get("message")]
    assert 'failed: a <b>"reason"</b> & ? control' in messages  # escaped, and read back as written


def test_compare_gates_only_on_a_real_regression(cli, tmp_path):
    base = bandwidth_run(cli, tmp_path / "base.json")
    # The same run compared with itself: every row noise, exit 0 even with the gate.
    same = cli("compare", tmp_path / "base.json", tmp_path / "base.json", "--fail-on-regression")
    assert same.returncode == 0, same.stdout
    assert "0 regression(s)" in same.stdout
    # Every sample of the first benchmark halved: a regression the gate fails on.
    slow = json.loads(json.dumps(base))
    slow.pop("integrity", None)
    m = slow["benchmarks"][0]["metrics"][0]
    m["samples"] = [s / 2 for s in m["samples"]]
    for k in ("median", "mean", "min", "max", "p50", "p90", "p99", "ci95_lo", "ci95_hi", "stddev"):
        if isinstance(m["stats"].get(k), (int, float)):
            m["stats"][k] /= 2
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    r = cli("compare", tmp_path / "base.json", tmp_path / "slow.json", "--json", tmp_path / "c.json")
    assert r.returncode == 0, r.stdout  # no gate asked for
    assert "regression" in r.stdout
    gated = cli("compare", tmp_path / "base.json", tmp_path / "slow.json", "--fail-on-regression")
    assert gated.returncode == 1, gated.stdout
    rows = load(tmp_path / "c.json")["rows"]
    assert rows[0]["verdict"] == "regression" and abs(rows[0]["change_pct"] + 50) < 1
    assert cli("compare", tmp_path / "base.json").returncode == 2


def test_sign_and_verify_catch_a_single_edited_number(cli, tmp_path):
    out = tmp_path / "r.json"
    bandwidth_run(cli, out)
    assert cli("verify", out).returncode == 0
    assert cli("keygen", "-o", tmp_path / "key").returncode == 0
    assert (tmp_path / "key").stat().st_mode & 0o077 == 0  # the secret key is its owner's alone
    s = cli("sign", out, "--key", tmp_path / "key")
    assert s.returncode == 0, s.stderr
    v = cli("verify", out, "--pubkey", tmp_path / "key.pub")
    assert v.returncode == 0 and "signature valid" in v.stdout, v.stdout
    assert cli("validate", out).returncode == 0
    doc = load(out)
    doc["benchmarks"][1]["metrics"][0]["samples"][0] += 0.001
    (tmp_path / "t.json").write_text(json.dumps(doc))
    t = cli("verify", tmp_path / "t.json", "--pubkey", tmp_path / "key.pub")
    assert t.returncode == 1
    assert f"benchmarks/1 ({doc['benchmarks'][1]['id']}): metric 'bandwidth' changed" in t.stdout, t.stdout
    refused = cli("sign", tmp_path / "t.json", "--key", tmp_path / "key")
    assert refused.returncode == 2 and "changed since xpubench wrote it" in refused.stderr
    other = cli("keygen", "-o", tmp_path / "other")
    assert other.returncode == 0
    wrong = cli("verify", out, "--pubkey", tmp_path / "other.pub")
    assert wrong.returncode == 1 and "not by the key given" in wrong.stdout
    missing = cli("sign", out, "--key", tmp_path / "nokey")
    assert missing.returncode == 2 and "nokey" in missing.stderr
