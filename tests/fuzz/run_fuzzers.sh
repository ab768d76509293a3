#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer, ASan, UBSan) in BUILD/fuzz and runs each for
# SECONDS (default 10; 60 when CI is set), starting from the seed corpus in
# tests/fuzz/corpus/TARGET and a scratch corpus in BUILD/fuzz/corpus/TARGET. Fails when a
# target crashes, leaks, hangs (a single input over 10 s) or runs out of memory (2 GiB);
# the input that did it is left in BUILD/fuzz/artifacts.
#   usage: run_fuzzers.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -euo pipefail
src=$1
build=$2/fuzz
seconds=${3:-${XPB_FUZZ_SECONDS:-$([ -n "${CI:-}" ] && echo 60 || echo 10)}}
jobs=$(nproc)
if ! command -v clang++ >/dev/null; then
  echo "run_fuzzers: clang++ is not installed (tools/setup-debian.sh installs it)" >&2
  exit 1
fi
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DXPB_FUZZ=ON -DXPB_BUILD_TESTS=OFF -DXPB_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
targets=(fuzz_suite fuzz_set fuzz_gguf fuzz_validate fuzz_report fuzz_sim_description)
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$build.build.log" 2>&1 ||
  { tail -50 "$build.build.log" >&2; exit 1; }
mkdir -p "$build/artifacts"
status=0
run() {
  local t=$1
  mkdir -p "$build/corpus/$t"
  # -rss_limit_mb bounds what one input may make the reader allocate; -timeout one input's time.
  if "$build/tests/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=$([ "$t" = fuzz_gguf ] && echo 131072 || echo 65536) \
      -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 \
      "$build/corpus/$t" "$src/tests/fuzz/corpus/$t" >"$build/$t.log" 2>&1; then
    echo "run_fuzzers: $t: $(grep -E 'stat::number_of_executed_units' "$build/$t.log" | awk '{print $2}') inputs in ${seconds} s, no finding"
  else
    echo "run_fuzzers: $t FOUND A PROBLEM; input in $build/artifacts:" >&2
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$build/$t.log" | head -20 >&2
    return 1
  fi
}
# Two at a time: as many as there are cores on the CI machine.
pids=()
for t in "${targets[@]}"; do
  run "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
