"""The HTML report in a real browser (Debian's headless Chromium): a result of every family the
report charts, with a device name made to inject markup, rendered beside the untouched result;
the page must open without a console message, draw its charts, keep the hostile name as text
and put pixels on the screen."""
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from conftest import load

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("no chromium here (tools/setup-debian.sh installs it; CI always has it)", allow_module_level=True)

HOSTILE = '<script>console.error("injected")</script><img src=x onerror="console.error(1)">"\'&'

SUITE = """\
suite: families
description: one small benchmark of each family the HTML report charts
devices: [cpu, "photonic-sim,mode=timing-only"]
policy: {warmup_seconds: 0, min_seconds: 0.02, max_seconds: 0.2, min_samples: 3, max_samples: 20,
         target_ci_relative: 0}
benchmarks:
  - workload: memory.sweep
    params: {max_bytes: 64KiB, points_per_octave: 1}
  - workload: memory.latency
    params: {chains: 1, size: 1MiB, steps: 16384, huge_pages: false}
  - workload: llm.serving
    params: {model: stories-15m, requests: 4, rate: 20, input_tokens: 16, output_tokens: 4}
  - workload: video.stream
    params: {model: dit-small, dtype: f32, chunks: 2, streams: 1}
"""


def browse(page, tmp_path, *mode):
    """Opens `page` in headless Chromium; returns its stdout and the console messages it logged."""
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                        "--window-size=1280,2400", *mode, page.as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, [line for line in r.stderr.splitlines() if ":CONSOLE" in line]


class Dom(HTMLParser):
    """The elements (tag and attributes) and the text of a page, as the browser left it."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.text = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def with_class(self, tag, cls):
        return [a for t, a in self.elements if t == tag and a.get("class", "").split() == cls.split()]


def test_the_console_check_sees_a_page_that_runs_script(tmp_path):
    page = tmp_path / "p.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("seen")</script></body></html>')
    _, console = browse(page, tmp_path, "--dump-dom")
    assert any("seen" in line for line in console), console


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from conftest import Cli
    tmp = tmp_path_factory.mktemp("html")
    cli = Cli(tmp)
    (tmp / "families.yaml").write_text(SUITE)
    r = cli("run", tmp / "families.yaml", "-o", tmp / "r.json", "--report", "html")
    assert r.returncode == 0, r.stderr
    assert (tmp / "r.html").stat().st_size > 0  # run --report html writes it beside the result
    doc = load(tmp / "r.json")
    doc.pop("integrity", None)
    for d in doc["devices"]:
        if d["id"] == "cpu":
            d["id"] = d["name"] = HOSTILE
    for b in doc["benchmarks"]:
        if b["device"] == "cpu":
            b["device"] = HOSTILE
    doc["run"]["id"] = '"><svg onload=console.error(2)>'
    (tmp / "hostile.json").write_text(json.dumps(doc))
    page = tmp / "side-by-side.html"
    r = cli("report", tmp / "hostile.json", tmp / "r.json", "--format", "html", "-o", page)
    assert r.returncode == 0, r.stderr
    return tmp, page


def test_the_page_opens_without_console_messages_with_every_chart(report):
    tmp, page = report
    dom_text, console = browse(page, tmp, "--dump-dom")
    assert console == []
    dom = Dom(dom_text)
    tags = {t for t, _ in dom.elements}
    assert "script" not in tags and "img" not in tags  # the hostile name made no element
    text = "".join(dom.text)
    assert HOSTILE in text and '"><svg onload=console.error(2)>' in text
    assert all(a.get("onload") is None for _, a in dom.elements)
    charts = dom.with_class("svg", "chart")
    # Sweep: bandwidth and latency against size; latency CDF; TTFT, TPOT, ITL, e2e, queue CDFs;
    # throughputs as bars; video CDFs and bars.
    assert len(charts) >= 15, len(charts)
    assert dom.with_class("g", "series modeled") and dom.with_class("g", "series")  # simulated apart
    assert dom.with_class("g", "bar modeled") and dom.with_class("g", "bar")
    assert any(t.startswith("deadline ") for t in dom.text)  # frame latency against its deadline
    assert any(t.startswith("L1d ") for t in dom.text)  # the cache levels on the sweep
    assert "R1" in text and "R2" in text


def test_the_screenshot_shows_charts(report):
    from PIL import Image
    tmp, page = report
    shot = tmp / "page.png"
    _, console = browse(page, tmp, f"--screenshot={shot}")
    assert console == []
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    colours = image.getcolors(maxcolors=1 << 24)  # (count, (r, g, b)) for each colour on it
    total = image.size[0] * image.size[1]
    white = sum(n for n, c in colours if c == (255, 255, 255))
    assert total - white > 0.02 * total, total - white
    # The palette's first colours (svg_chart.cpp): lines and bars were drawn. R1 and R2 hold
    # the same figures, so one line may hide the other: counted together.
    palette = [(0x1b, 0x9e, 0x77), (0xd9, 0x5f, 0x02), (0x75, 0x70, 0xb3)]
    drawn = sum(n for n, c in colours if any(all(abs(a - b) < 40 for a, b in zip(c, p)) for p in palette))
    assert drawn > 1000, drawn
