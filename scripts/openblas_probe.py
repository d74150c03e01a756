"""openblas_probe — which OpenBLAS kernel PyTorch and numpy should run with on this machine.

OpenBLAS 0.3.21 (Debian 12) picks its kernels by CPU model; on a processor it does not know (this
project's Sapphire Rapids class machines) it falls back to 'Prescott', 4-7x slower than its AVX2
('Haswell') or AVX-512 ('SkylakeX') kernels, which would make any comparison with it flatter us.
The comparison scripts therefore probe an SGEMM under the detected core type and each candidate
OPENBLAS_CORETYPE, one fresh process each (the variable is read when the library loads), and run
the yardstick with the fastest. Imported by scripts/compare-torch and scripts/bench-compare.
"""
import os
import subprocess
import sys

PROBE = r"""
import ctypes, time, numpy as np
a = np.random.default_rng(1).random((512, 512), dtype=np.float32)
b = a.copy()
for _ in range(3):
    a @ b
best = 1e9
for _ in range(10):
    t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
name = "?"
for lib in ("libopenblas.so.0", "libopenblasp.so.0"):
    try:
        f = ctypes.CDLL(lib).openblas_get_corename
        f.restype = ctypes.c_char_p
        name = f().decode()
        break
    except (OSError, AttributeError):
        pass
print(f"{2 * 512 ** 3 / best / 1e9:.1f} {name}")
"""


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def environment(coretype, base=None):
    """A copy of base (os.environ) that runs OpenBLAS with `coretype` ('' = its own detection)."""
    env = dict(os.environ if base is None else base)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)       # set together with the core type where it is set at all
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def best_coretype(verbose=True):
    """Returns (coretype, report): the OPENBLAS_CORETYPE ('' = detected) whose one-thread 512^3 SGEMM
    through numpy (the same libblas.so.3 as torch) is fastest, and a line saying what was measured."""
    flags = cpu_flags()
    candidates = [""]
    if {"avx2", "fma"} <= flags:
        candidates.append("Haswell")
    if "avx512f" in flags:
        candidates.append("SkylakeX")
    results = []
    for c in candidates:
        env = environment(c)
        env["OPENBLAS_NUM_THREADS"] = "1"
        p = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            continue
        gflops, name = p.stdout.split()
        results.append((float(gflops), c, name))
    if not results:
        return "", "OpenBLAS probe failed (numpy missing?): OpenBLAS runs with its own detection"
    best = max(results)
    report = "OpenBLAS kernels, 1-thread SGEMM 512: " + ", ".join(
        f"{'detected ' + n if not c else c} {g:.0f} GFLOP/s" for g, c, n in results) + \
        f" -> yardstick runs with {'its own detection' if not best[1] else 'OPENBLAS_CORETYPE=' + best[1]}"
    if verbose:
        print(report, flush=True)
    return best[1], report
