#!/usr/bin/env bash
# Installs everything xpubench needs to build, run and test on Debian 12 (bookworm).
# Run as root, or as a user with sudo. Safe to run again: installs only what is missing.
set -euo pipefail

# With --run-only: what builds and runs xpubench, not what its tests need (a pipeline that gates
# a driver, ci/, has no use for a browser).
run_only=false
[ "${1:-}" = "--run-only" ] && run_only=true

packages=(
  build-essential cmake pkg-config git
  libyaml-cpp-dev libhwloc-dev hwloc libhwy-dev nlohmann-json3-dev libfmt-dev libcli11-dev libsodium-dev
  libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  opencl-headers ocl-icd-opencl-dev pocl-opencl-icd clinfo
)
# The tests: fuzzing (clang's libFuzzer), the end-to-end tests (pytest; the HTML report in
# headless Chromium, its screenshot read with Pillow; JUnit checked with xmllint), the Python
# package's module and tests (pybind11, pandas).
$run_only || packages+=(
  clang libclang-rt-14-dev
  python3 python3-pytest python3-jsonschema python3-yaml python3-pil
  chromium libxml2-utils
  python3-dev python3-pybind11 pybind11-dev python3-pandas python3-distributed python3-tqdm python3-matplotlib
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-debian: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The end-to-end tests run `python3 -m pytest`; a python3 earlier on PATH than Debian's (pyenv,
# a virtualenv) does not see Debian's packages, so give it its own copies from PyPI.
# The Python package (python/, built with the tests) needs pybind11, pandas, Dask and matplotlib too.
if ! $run_only && ! python3 -c "import pytest, jsonschema, yaml, PIL, pybind11, pandas, distributed, tqdm, matplotlib" 2>/dev/null; then
  echo "setup-debian: installing pytest, jsonschema, PyYAML, Pillow, pybind11, pandas, Dask and matplotlib for $(command -v python3)"
  python3 -m pip install --quiet pytest jsonschema pyyaml pillow pybind11 scikit-build-core pandas "dask[distributed]" tqdm matplotlib
fi
echo "setup-debian: ready"
