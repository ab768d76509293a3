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
