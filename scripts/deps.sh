#!/usr/bin/env bash
# Installs every Debian package typenet's build, tests, examples and benchmarks need.
# Idempotent: when all are present it installs nothing. PyTorch (CPU, Debian's) is there for the
# interop tests and the parity generator (tests/parity/gen.py); `--compare` adds OpenBLAS, which the
# speed comparisons need (scripts/compare-torch, scripts/bench-compare); `--fuzz` adds clang and
# libFuzzer for scripts/fuzz.sh.
set -euo pipefail

packages=(
    g++ cmake make pkg-config                  # toolchain
    libxtensor-dev libxsimd-dev xtl-dev        # tensors, SIMD
    libboost-dev                               # Boost.Hana
    zlib1g-dev                                 # gzip IDX files
    nlohmann-json3-dev                         # safetensors headers (io/)
    doctest-dev libbenchmark-dev               # tests, benchmarks
    libcli11-dev                               # the examples' flags
    libstb-dev                                 # the GAN example's PNG files
    dataset-fashion-mnist                      # the examples' data
    fortunes wamerican                         # text: char_lstm, char_gpt (fortunes), seq2seq (words)
    gnuplot-nox                                # scripts/plot: training curves
    python3-torch python3-numpy                # PyTorch: parity data, io/torch_interop_* (safetensors both ways)
    libopenmpi-dev openmpi-bin                 # typenet/distributed.hpp: data parallelism, mpirun
)
for flag in "$@"; do
    case "$flag" in
    --compare)
        # OpenBLAS: without it Debian's torch runs on the reference BLAS, 5x slower (not a fair
        # yardstick); its -dev package builds the SGEMM yardstick of scripts/bench-compare.
        packages+=(libopenblas0-pthread libopenblas-dev) ;;
    --fuzz)
        packages+=(clang libclang-rt-14-dev) ;;    # scripts/fuzz.sh: clang++, libFuzzer, sanitizer runtimes
    *)
        echo "deps: unknown flag $flag (--compare, --fuzz)" >&2
        exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "deps: all ${#packages[@]} packages present"
    exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
