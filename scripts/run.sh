#!/usr/bin/env bash
# The main job: install what is needed, build in Release, train and evaluate the showcase model on
# Fashion-MNIST. Extra arguments go to the example (e.g. --epochs 3 --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTYPENET_BUILD_TESTS=OFF -DTYPENET_BUILD_BENCH=OFF
cmake --build build/release -j"$(nproc)" --target mlp_fashion
./build/release/examples/mlp_fashion "$@"
