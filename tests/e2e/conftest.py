import json
import os
import subprocess
from pathlib import Path

import pytest

XPUBENCH = os.environ.get("XPUBENCH", "xpubench")

# Small and fast: 1 MiB arrays, a fraction of a second per figure.
FAST = ["--set", "policy.max_seconds=0.2", "--set", "policy.min_seconds=0.05",
        "--set", "policy.warmup_seconds=0.01"]


class Cli:
    """The real CLI in a temp folder. Unless a test gives its own `env`, the OpenCL ICD loader is
    pointed at an empty vendor folder, so the default device set is the host's `cpu` on every
    machine (the opencl driver's own tests name their device)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        vendors = tmp / "no-opencl-vendors"
        vendors.mkdir(exist_ok=True)
        self.env = dict(os.environ, OCL_ICD_VENDORS=str(vendors))

    def __call__(self, *args, timeout=300, **kw):
        kw.setdefault("env", self.env)
        return subprocess.run([XPUBENCH, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, cwd=self.tmp, **kw)

    def popen(self, *args):
        return subprocess.Popen([XPUBENCH, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.tmp, env=self.env)


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def load(path):
    return json.loads(Path(path).read_text())


DATA = Path(os.environ.get("XPB_TEST_DATA", Path(__file__).resolve().parents[1] / "data"))


def junit(path):
    """The root of a JUnit file, after checking it against the schema of the JUnit that CI
    systems read (tests/data/junit/junit.xsd, with xmllint) and that every suite's counts are
    its cases'."""
    import xml.etree.ElementTree as ET
    r = subprocess.run(["xmllint", "--noout", "--schema", str(DATA / "junit" / "junit.xsd"), str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            if suite.get(attribute) is not None:
                assert int(suite.get(attribute)) == sum(1 for c in cases if c.find(tag) is not None), attribute
    return root
