"""Faults people have met in benchmark tools, replayed on the real CLI: output paths that are
not files, two runs on one output, FIFOs where files are expected, documents a JSON parser
cannot hold, file-size limits, full devices, empty grids, values that can only be wrong,
sizes, restricted CPU sets and Ctrl-C at the worst moment. Every special file is made in the
test's own temp folder."""
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FAST, XPUBENCH, load

IS_ROOT = os.geteuid() == 0


def char_device(path, major, minor):
    """A character device node of our own (needs CAP_MKNOD); None where it cannot be made."""
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(major, minor))
        return path
    except (PermissionError, OSError):
        return None


# --- output paths --------------------------------------------------------------------------------

def test_output_to_a_fifo_or_a_device_is_refused_before_anything_runs(cli, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    r = cli("run", "memory.latency", "-o", fifo, timeout=30)
    assert r.returncode == 2, r.stderr
    assert "exists and is not a regular file" in r.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # not replaced by a regular file
    node = char_device(tmp_path / "null", 1, 3)
    if node is not None:
        r = cli("run", "memory.latency", "-o", node, timeout=30)
        assert r.returncode == 2 and "not a regular file" in r.stderr
        assert stat.S_ISCHR(node.stat().st_mode)
    r = cli("model", "export", "--preset", "tiny", "-o", fifo, timeout=30)
    assert r.returncode == 2 and "model export -o" in r.stderr and "not a regular file" in r.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_an_empty_output_name_is_refused_at_once(cli):
    start = time.monotonic()
    r = cli("run", "memory.latency", "-o", "", timeout=30)
    assert r.returncode == 2
    assert 'expected a file name' in r.stderr
    assert time.monotonic() - start < 10  # nothing was run first


def test_a_second_run_on_the_same_output_is_refused_and_the_first_keeps_its_results(cli, tmp_path):
    out = tmp_path / "shared.json"
    first = cli.popen("run", "memory.latency", "--set", "size=8MiB", "--set", "chains=[1, 2, 4]",
                      "--set", "policy.min_seconds=1", "--set", "policy.max_seconds=1.5", "-o", out)
    journal = Path(str(out) + ".journal")
    for _ in range(200):  # until the first run has started its journal
        if journal.exists():
            break
        time.sleep(0.05)
    assert journal.exists()
    second = cli("run", "memory.latency", "--set", "size=1MiB", *FAST, "-o", out, timeout=60)
    assert second.returncode == 2, second.stderr
    assert "another xpubench run (pid %d) is writing this result" % first.pid in second.stderr
    assert journal.exists()  # the first run's journal was neither moved nor deleted
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    doc = load(out)
    assert doc["run"]["status"] == "complete"
    assert len(doc["benchmarks"]) == 3
    assert not journal.exists()
    assert not Path(str(out) + ".lock").exists()


# --- inputs that are not regular files -----------------------------------------------------------

def test_a_fifo_given_as_a_suite_is_refused_not_waited_on(cli, tmp_path):
    fifo = tmp_path / "suite.yaml"
    os.mkfifo(fifo)
    r = cli("run", fifo, "-o", tmp_path / "r.json", timeout=30)
    assert r.returncode == 2
    assert str(fifo) in r.stderr and "not a regular file" in r.stderr


def test_a_fifo_in_the_suite_path_does_not_hang_list(cli, tmp_path):
    os.mkfifo(tmp_path / "blocked.yaml")
    (tmp_path / "mine.yaml").write_text("suite: mine\nbenchmarks: [{workload: memory.latency}]\n")
    r = cli("list", "suites", timeout=30, env={**os.environ, "XPB_SUITE_PATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "mine" in r.stdout and "blocked" not in r.stdout


def test_a_directory_or_an_unreadable_suite_says_so(cli, tmp_path):
    folder = tmp_path / "suites.yaml"
    folder.mkdir()
    r = cli("run", folder, "-o", tmp_path / "r.json", timeout=30)
    assert r.returncode == 2 and "is a directory" in r.stderr
    missing = tmp_path / "gone.yaml"
    r = cli("run", missing, "-o", tmp_path / "r.json", timeout=30)
    assert r.returncode == 2 and "No such file or directory" in r.stderr and str(missing) in r.stderr


def test_an_empty_list_names_the_file_and_the_position(cli, tmp_path):
    suite = tmp_path / "empty.yaml"
    suite.write_text("suite: e\nbenchmarks:\n  - workload: memory.bandwidth\n    params: {kernel: []}\n")
    r = cli("run", suite, "-o", tmp_path / "r.json", timeout=30)
    assert r.returncode == 2
    assert f"{suite}:4:22: parameter 'kernel' of memory.bandwidth is an empty list" in r.stderr


def test_an_alias_bomb_is_refused_in_well_under_a_second(cli, tmp_path):
    lines = ["suite: bomb", "benchmarks:", "  - workload: memory.bandwidth", "    params:",
             "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        lines.append(f"      a{i}: &a{i} [" + ", ".join(f"*a{i - 1}" for _ in range(10)) + "]")
    suite = tmp_path / "bomb.yaml"
    suite.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    r = cli("run", suite, "-o", tmp_path / "r.json", timeout=60)
    assert r.returncode == 2, r.stderr
    assert "expands to more than 100000 values" in r.stderr and f"{suite}:" in r.stderr
    assert time.monotonic() - start < 10  # refused as it expands, not after


# --- values ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting, message", [
    ("memory.latency size=64", "at least two lines per chain"),
    ("memory.bandwidth array_bytes=4", "less than one f64 element"),
])
def test_values_that_can_only_be_wrong_stop_the_run_before_it_starts(cli, tmp_path, setting, message):
    workload, kv = setting.split()
    out = tmp_path / "r.json"
    r = cli("run", workload, "--set", kv, "-o", out, timeout=30)
    assert r.returncode == 2 and message in r.stderr
    assert not out.exists() and not Path(str(out) + ".journal").exists()


def test_sizes_are_parsed_one_way(cli, tmp_path):
    for value in ("1PiB", "1024TiB"):
        r = cli("run", "memory.bandwidth", "--set", f"array_bytes={value}", "--set", "kernel=read",
                "--set", "threads=1", "-o", tmp_path / "r.json", timeout=60)
        assert r.returncode == 0, r.stderr
        b = load(tmp_path / "r.json")["benchmarks"][0]
        assert b["params"]["array_bytes"] == 1 << 50
        assert b["status"] == "skipped" and "MiB of memory" in b["reason"]
    r = cli("run", "memory.bandwidth", "--set", "policy.max_iterations=1e18", *FAST, "--set", "kernel=read",
            "--set", "threads=1", "--set", "array_bytes=1MiB", "-o", tmp_path / "r.json", timeout=60)
    assert r.returncode == 0, r.stderr
    r = cli("model", "export", "--preset", "tiny", "--seed", "-1", "-o", tmp_path / "m.gguf", timeout=60)
    assert r.returncode == 2 and "expected a whole number in [0, 18446744073709551615]" in r.stderr
    assert not (tmp_path / "m.gguf").exists()


# --- documents -------------------------------------------------------------------------------------

def test_validate_names_the_file_and_place_of_a_number_out_of_range(cli, tmp_path):
    doc = tmp_path / "huge.json"
    doc.write_text('{"schema": 1e999}\n')
    r = cli("validate", doc, timeout=30)
    assert r.returncode == 2
    assert f"{doc}:1:12: a number out of range (1e999)" in r.stderr, r.stderr


def test_validate_out_of_memory_is_an_error_not_an_abort(cli, tmp_path):
    doc = tmp_path / "big.json"
    with doc.open("w") as f:
        f.write('{"schema": "xpubench.result/1", "x": [')
        f.write("0," * 20_000_000)
        f.write("0]}\n")
    limit = 600 << 20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    r = subprocess.run([XPUBENCH, "validate", str(doc)], capture_output=True, text=True, timeout=120,
                       preexec_fn=cap)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert str(doc) in r.stderr and "out of memory" in r.stderr


# --- write errors ----------------------------------------------------------------------------------

def test_a_file_size_limit_is_an_error_that_keeps_the_journal(cli, tmp_path):
    out = tmp_path / "r.json"

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))

    r = subprocess.run([XPUBENCH, "run", "memory.bandwidth", "--device", "cpu", "--set", "kernel=[copy, scale, add, triad]",
                        "--set", "threads=1", "--set", "array_bytes=1MiB", *FAST, "-o", str(out)],
                       capture_output=True, text=True, timeout=120, preexec_fn=cap)
    assert r.returncode == 2, (r.returncode, r.stderr)  # not killed by SIGXFSZ
    assert "File too large" in r.stderr
    assert Path(str(out) + ".journal").exists()
    assert not list(tmp_path.glob("r.json.tmp.*"))


def test_a_full_stdout_is_an_error(cli, tmp_path):
    full = char_device(tmp_path / "full", 1, 7)
    if full is None:
        pytest.skip("cannot make a device node here (needs CAP_MKNOD)")
    with open(full, "w") as sink:
        r = subprocess.run([XPUBENCH, "info", "--json"], stdout=sink, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    assert r.returncode == 2
    assert "cannot write to standard output" in r.stderr


def test_a_closed_pipe_on_stderr_does_not_kill_the_run_before_its_result_is_written(tmp_path):
    # `xpubench run ... 2>&1 | head -1`: the reader goes away after the first line.
    out = tmp_path / "r.json"
    reader_gone = os.pipe()
    os.close(reader_gone[0])  # no reader at all: every write to the pipe fails with EPIPE
    r = subprocess.run([XPUBENCH, "run", "memory.latency", "--device", "cpu", "--set", "chains=[1,2]", *FAST, "-o", str(out)],
                       stdout=subprocess.DEVNULL, stderr=reader_gone[1], timeout=120)
    os.close(reader_gone[1])
    assert r.returncode == 0, r.returncode  # not 141 (SIGPIPE)
    assert len(load(out)["benchmarks"]) == 2
    assert not Path(str(out) + ".lock").exists()


@pytest.mark.parametrize("what", ["devices", "workloads"])
def test_a_closed_pipe_on_stdout_is_an_error_not_a_signal(tmp_path, what):
    # `list devices` (under 1 KiB) fails at the last flush; `list workloads` (over 8 KiB) when
    # stdio's buffer first fills, long before it: the reason is the same either way.
    reader_gone = os.pipe()
    os.close(reader_gone[0])
    r = subprocess.run([XPUBENCH, "list", what], stdout=reader_gone[1], stderr=subprocess.PIPE, text=True,
                       timeout=60)
    os.close(reader_gone[1])
    assert r.returncode == 2, r.returncode
    assert "cannot write to standard output: Broken pipe" in r.stderr


# --- the process's environment ---------------------------------------------------------------------

def test_a_restricted_cpu_set_is_what_threads_all_means(cli, tmp_path):
    if shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs taskset and two CPUs")
    cpu = min(os.sched_getaffinity(0))
    info = subprocess.run(["taskset", "-c", str(cpu), XPUBENCH, "info", "--json"], capture_output=True,
                          text=True, timeout=60)
    topo = json.loads(info.stdout)["system"]["topology"]
    assert topo["pus"] == 1 and topo["allowed_pus"] == [cpu] and topo["machine_pus"] >= 2
    text = subprocess.run(["taskset", "-c", str(cpu), XPUBENCH, "info"], capture_output=True, text=True, timeout=60)
    assert "affinity  this process may run on 1 of the machine's" in text.stdout
    out = tmp_path / "r.json"
    r = subprocess.run(["taskset", "-c", str(cpu), XPUBENCH, "run", "memory.bandwidth", "--device", "cpu", "--set", "threads=all",
                        "--set", "kernel=copy", "--set", "array_bytes=1MiB", *FAST, "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    b = load(out)["benchmarks"][0]
    assert b["params"]["threads"] == 1
    assert b["details"]["executable"]["pus"] == [cpu]


def test_ctrl_c_during_the_last_benchmark_stops_it_and_the_run_is_interrupted(cli, tmp_path):
    out = tmp_path / "r.json"
    p = cli.popen("run", "memory.capacity", "--set", "bytes=1GiB", "--set", "passes=1000", "--set", "threads=1",
                  "-o", out)
    journal = Path(str(out) + ".journal")
    for _ in range(200):
        if journal.exists():
            break
        time.sleep(0.05)
    time.sleep(0.5)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert time.monotonic() - sent < 5  # a bound: each long loop looks at the flag within ~100 ms
    assert p.returncode == 130
    doc = load(out)
    assert doc["run"]["status"] == "interrupted"
    assert doc["benchmarks"][-1]["status"] == "interrupted"
