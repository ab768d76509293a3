"""`pip` makes a wheel of the package that works outside the source tree: built over this build's
library installed into a temporary prefix (python/CMakeLists.txt's XPUBENCH_PREFIX, so only the
module is compiled), installed into a fresh virtual environment, imported from another folder,
run, and its command line (`python -m xpubench`, the `xpubench` script) finding its suites."""
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

BUILD = os.environ.get("XPB_BUILD_DIR")
SOURCE = Path(__file__).resolve().parents[2]
if BUILD is None and not os.environ.get("CI"):
    pytest.skip("XPB_BUILD_DIR is not set (ctest's python_package sets it)", allow_module_level=True)


def sh(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, (args, r.stdout[-3000:], r.stderr[-3000:])
    return r.stdout


def test_the_wheel_installs_and_runs_outside_the_tree(tmp_path):
    assert BUILD, "XPB_BUILD_DIR must name the build whose library the wheel takes"
    prefix = tmp_path / "prefix"
    sh("cmake", "--install", BUILD, "--prefix", prefix)
    # Without network where the build tools are installed; else pip fetches them (PyPI).
    have_tools = importlib.util.find_spec("scikit_build_core") and importlib.util.find_spec("pybind11")
    isolation = ["--no-build-isolation"] if have_tools else []
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", tmp_path / "dist", SOURCE / "python",
       "-C", f"cmake.define.XPUBENCH_PREFIX={prefix}", "-C", f"build-dir={tmp_path / 'build'}")
    wheel = next((tmp_path / "dist").glob("xpubench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"xpubench/__init__.py", "xpubench/bin/xpubench", "xpubench/share/xpubench/suites/quick.yaml"} <= names
    assert sum(1 for n in names if n.startswith("xpubench/lib/libxpubench")) == 1  # one copy of the library
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--system-site-packages", venv)  # numpy and pandas from here
    python = venv / "bin" / "python"
    sh(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = sh(python, "-c",
             "import xpubench; print(xpubench.__file__); "
             "r = xpubench.run('memory.bandwidth', {'kernel': 'copy', 'threads': 1, 'array_bytes': '1MiB'}, "
             "device='cpu', policy={'max_seconds': 0.1, 'min_seconds': 0.02}); print(r.status, len(r))",
             cwd=elsewhere, env=env)
    assert str(venv) in out and "complete 1" in out
    suites = sh(python, "-m", "xpubench", "list", "suites", cwd=elsewhere, env=env)
    assert str(venv) in suites and "quick" in suites  # the package's own suites
    assert "xpubench" in sh(venv / "bin" / "xpubench", "--version", cwd=elsewhere, env=env)
