"""Compile ahead (geo.precompile): on a cold numba cache the helper process fills the cache
with exactly the overloads a run then loads instead of compiling (issue: a cold run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _py(code: str, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, *args] if args else [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


_CALL = """
import numpy as np
from geo.precompile import missing
from geo.suitability import _rescale_f32 as k
print(len(missing()))
k(np.zeros(4, np.float32), 0.0, 1.0, True)  # the run's call: float32, C-contiguous
print(k.stats.cache_hits.get(k.signatures[0], 0), sum(k.stats.cache_misses.values()))
"""


def test_the_helper_fills_the_cache_a_call_then_loads_from(tmp_path):
    cache = tmp_path / "numba"
    cold = _py(_CALL, cache).stdout.split()
    # an empty cache: every kernel is missing, and the call had to compile
    assert cold[0] == "4" and cold[2] == "1", cold
    cache2 = tmp_path / "numba2"
    _py("", cache2, "-m", "geo.precompile", "geo.suitability:_rescale_f32")
    warm = _py(_CALL, cache2).stdout.split()
    # the helper's overload is found: one kernel fewer missing, and the call compiled nothing
    assert warm[0] == "3" and warm[1] == "1" and warm[2] == "0", warm


def test_a_warm_cache_starts_no_helper(tmp_path):
    cache = tmp_path / "numba"
    _py("", cache, "-m", "geo.precompile")
    out = _py(
        "from geo.precompile import compile_ahead, missing\n"
        "print(missing())\n"
        "with compile_ahead() as p: print(p)\n",
        cache,
    ).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "None", out
