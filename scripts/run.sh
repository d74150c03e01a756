#!/usr/bin/env bash
# The main job: install what is needed, build in Release, train and evaluate the showcase model on
# Fashion-MNIST: LeNet-5, 10 epochs (examples/lenet_fashion.cpp). Extra arguments go to the example (e.g. --epochs 3 --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTYPENET_BUILD_TESTS=OFF -DTYPENET_BUILD_BENCH=OFF
cmake --build build/release -j"$(nproc)" --target lenet_fashion mlp_fashion
./build/release/examples/lenet_fashion "$@"
