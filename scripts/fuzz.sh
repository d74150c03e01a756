#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) into build/fuzz/ and runs each for
# FUZZ_SECONDS (default 60) on a copy of its seed corpus (fuzz/corpus/<name>/ stays as committed).
# Fails when a target crashes, leaks, times out or trips a sanitizer; libFuzzer then names the
# input it saved (build/fuzz/<name>-crash-*), which `build/fuzz/<name>_fuzz <file>` replays.
#   FUZZ_SECONDS=600 ./scripts/fuzz.sh            FUZZ_TARGETS="idx" ./scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh --fuzz                        # clang++ and its libFuzzer / sanitizer runtimes

cxx="${FUZZ_CXX:-clang++}"
seconds="${FUZZ_SECONDS:-60}"
targets=(${FUZZ_TARGETS:-safetensors checkpoint idx})
out=build/fuzz
mkdir -p "$out"
# No -fopenmp: the kernels run single-threaded without it (kernels/cpu/common.hpp).
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I include
       -Wno-unknown-attributes)                    # [[gnu::noipa]]: a g++ attribute

for t in "${targets[@]}"; do
    echo "fuzz: building $out/${t}_fuzz ($("$cxx" --version | head -n1))"
    "$cxx" "${flags[@]}" "fuzz/${t}_fuzz.cpp" -o "$out/${t}_fuzz" -lz
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
for t in "${targets[@]}"; do
    corpus="$out/corpus/$t"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp fuzz/corpus/"$t"/* "$corpus"/
    log="$out/$t.log"
    echo "fuzz: running ${t}_fuzz for ${seconds}s on $(ls "$corpus" | wc -l) seeds (log: $log)"
    status=0
    "$out/${t}_fuzz" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$out/$t-" >"$log" 2>&1 || status=$?
    if ((status != 0)); then
        tail -n 60 "$log"
        echo "fuzz: ${t}_fuzz FAILED (exit $status); the input is named above, the whole log is $log"
        exit "$status"
    fi
    echo "fuzz: ${t}_fuzz: $(grep -E '^stat::number_of_executed_units' "$log" | tail -n1)," \
         "corpus $(ls "$corpus" | wc -l) files; no crashes"
done
