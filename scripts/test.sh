#!/usr/bin/env bash
# The whole test suite: install what is needed, build everything (Release: tests, examples,
# benchmarks) and run ctest; then build the unit tests with AddressSanitizer + UBSan and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs="$(nproc)"

cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release -DTYPENET_BUILD_TESTS=ON -DTYPENET_BUILD_EXAMPLES=ON \
      -DTYPENET_BUILD_BENCH=ON
cmake --build build/test -j"$jobs"
ctest --test-dir build/test -j"$jobs" --output-on-failure

# Sanitizers: the unit tests only (compile-fail, consumer and header checks do not run our code;
# the ResNet interop trains 50 ResNet steps, minutes in a Debug ASan build, and its io path is the
# LeNet and MLP ones).
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DTYPENET_SANITIZE=ON -DTYPENET_BUILD_TESTS=ON \
      -DTYPENET_BUILD_EXAMPLES=OFF -DTYPENET_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan -j"$jobs" --output-on-failure -E "^(compile_fail|consumer|meta/headers|io/torch_interop_resnet)"

# Fuzzing: the safetensors, checkpoint and IDX readers under libFuzzer + ASan/UBSan, 60 s each.
./scripts/fuzz.sh
