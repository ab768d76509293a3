"""xpubench.plot on a real small run of each family the charts are about (cpu and the
photonic simulator): each draws what it says, simulated figures drawn apart, and saves."""
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import xpubench  # noqa: E402
import xpubench.plot  # noqa: E402
from conftest import FAST  # noqa: E402


@pytest.fixture(scope="module")
def result():
    plan = [
        {"workload": "memory.sweep", "params": {"max_bytes": "64KiB", "points_per_octave": 1}, "policy": FAST},
        {"workload": "llm.serving", "params": {"model": "stories-15m", "requests": 4, "rate": 20, "input_tokens": 16,
                                               "output_tokens": 4}, "policy": FAST},
        {"workload": "video.stream", "params": {"model": "dit-small", "dtype": "f32", "chunks": 2}, "policy": FAST},
        {"workload": "energy.compute", "params": {"kernel": "matmul", "rows": 16, "k": 64, "n": 64}, "policy": FAST},
    ]
    return xpubench.run(plan, device=["cpu", "photonic-sim,mode=timing-only"])


def test_bandwidth_against_working_set_marks_the_caches(result, tmp_path):
    ax = xpubench.plot.bandwidth_vs_working_set(result)
    assert len(ax.get_lines()) >= 1 + 2  # the cpu's line and at least L1d and L2
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [4096, 8192, 16384, 32768, 65536]
    assert ax.get_xscale() == "log" and "GB/s" in ax.get_ylabel()
    ax.figure.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_throughput_per_device_draws_simulated_bars_apart(result):
    ax = xpubench.plot.figure_per_device(result, "output_throughput")
    bars = ax.patches
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(bars) == 2 and any("(simulated)" in t for t in labels)
    simulated = [b for b, t in zip(bars, labels) if "(simulated)" in t]
    assert simulated[0].get_hatch() == "//"


def test_latency_cdfs_and_the_frame_deadline(result):
    ax = xpubench.plot.latency_cdf(result, "ttft")
    assert len(ax.get_lines()) == 2 and "p50" in ax.get_legend().get_texts()[0].get_text()
    ax = xpubench.plot.frame_deadlines(result)
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("deadline ") for t in texts)


def test_energy_per_op_is_on_a_log_axis(result):
    ax = xpubench.plot.energy_per_op(result)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("energy_per_mac (pJ/MAC) (modeled)" in t for t in labels), labels
    assert ax.get_xscale() == "log"
