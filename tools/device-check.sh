#!/usr/bin/env bash
# The OpenCL checks and figures to take on a real GPU (issue 9), as one script with a time
# budget: build, list the devices, conformance, then the memory, compute and LLM figures on
# every OpenCL device, each result document and log written to OUT (default ./device-check).
# Anchors (clpeak, nvbandwidth) are built and run beside it by hand, from their own sources,
# outside this tree.
#
#   tools/device-check.sh [OUT]        e.g. OUT=$OUT on a lent machine
#
# Each step is bounded (timeout) so one slow step cannot eat the others' time; a step that
# fails is logged and the script goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-device-check}"
mkdir -p "$out"
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }
step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  log "$name"
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  log "$name: exit $rc"
  tail -n 40 "$out/$name.log"
}

if [ ! -x build/bin/xpubench ]; then
  step build 400 bash -c 'cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" --target xpubench_cli'
fi
x=build/bin/xpubench
step devices 60 "$x" list devices
command -v clinfo >/dev/null && step clinfo 60 clinfo

# Every OpenCL device the loader finds: opencl, or opencl:0, opencl:1, ...
mapfile -t devices < <("$x" list devices 2>/dev/null | grep -oE '^ *opencl(:[0-9]+)?' | tr -d ' ')
for d in "${devices[@]}"; do
  tag=${d//:/_}
  step "conform_$tag" 300 "$x" conform --device "$d" --ops-only --no-isolate --json "$out/conform_$tag.json"
  step "memory_$tag" 300 "$x" run memory.bandwidth memory.transfer memory.launch --device "$d" \
    --set kernel=[read,copy,triad,write] --set dtype=f32 --set vector_width=[1,2,4,8,16] \
    --set array_bytes=1GiB --set direction=[host_to_device,device_to_host] \
    --set host_memory=[pageable,pinned] --set mode=[round_trip,back_to_back] \
    --set policy.max_seconds=1 -o "$out/memory_$tag.json"
  step "compute_$tag" 200 "$x" run compute --device "$d" --set policy.max_seconds=1 -o "$out/compute_$tag.json"
  step "llm_$tag" 400 "$x" run llm.bench --device "$d" --set model=stories-15m --set dtype=[q8_0,q4_0,f16] \
    --set test=[pp,tg] --set n_prompt=128 --set n_gen=64 --set check=on -o "$out/llm_$tag.json"
done
log done
