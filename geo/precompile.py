"""Compile ahead: a cold ``anju run`` compiles its late numba kernels in a second process.

A cold start (numba's cache empty: a fresh install, or kernels changed by an upgrade) spends
seconds compiling kernels, and numba compiles in one thread at a time under the GIL. The
kernels a run needs last (the resettlement sites' chain) are compiled meanwhile by a helper
process, ``python -m geo.precompile``, into numba's own cache (``cache=True``, the
``NUMBA_CACHE_DIR`` of the run): when the run reaches them it loads them from the cache instead
of compiling them itself. Nothing else changes: the helper writes nothing but cache files
(numba writes them atomically), a helper that fails or has not finished costs the run only
the compile it would have done anyway, and a warm cache starts no helper at all.

:data:`KERNELS` holds the kernels with the exact signatures a run calls them with
(``tests/test_demo_plan.py`` checks them against a run); the earliest needed first.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["KERNELS", "compile_ahead", "missing"]

# (module, function, signature): the relocation chain's kernels, in the order a run needs them
KERNELS: tuple[tuple[str, str, str], ...] = (
    ("geo.suitability", "_rescale_f32", "(float32[::1], float64, float64, boolean)"),
    ("geo.siting", "_label_cells8", "(int64[::1], int64)"),
    (
        "geo.siting",
        "_split_patch_kernel",
        "(int64[::1], int64[::1], int64, int64, float64, float64)",
    ),
    (
        "geo.siting",
        "_repartition_states",
        "(float64[:, ::1], float64[::1], float64[::1], float64[::1], float64, float64, int64,"
        " float64)",
    ),
)


def _dispatcher(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def missing(kernels: tuple[tuple[str, str, str], ...] = KERNELS) -> list[tuple[str, str, str]]:
    """The kernels whose signature numba's cache does not hold yet (for this source and
    machine), read from each kernel's cache index (numba's own check when it loads)."""
    from numba.core import sigutils

    out = []
    for module, name, sig in kernels:
        try:
            disp = _dispatcher(module, name)
            args, _ = sigutils.normalize_signature(sig)
            index = disp._cache._cache_file._load_index()  # {(args, magic, hashes): file}
            if not any(key[0] == tuple(args) for key in index):
                out.append((module, name, sig))
        except Exception:  # an unexpected numba internal: compile nothing ahead  # noqa: BLE001
            return []
    return out


@contextmanager
def compile_ahead() -> Iterator[subprocess.Popen[bytes] | None]:
    """Start the helper process when numba's cache lacks some of :data:`KERNELS` (a cold
    start); stop it when the block ends (numba writes a cache file whole or not at all).
    ``ANJU_COMPILE_AHEAD=0`` turns it off."""
    todo = missing() if os.environ.get("ANJU_COMPILE_AHEAD", "1") != "0" else []
    proc = None
    if todo:
        names = [f"{m}:{f}" for m, f, _ in todo]
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "geo.precompile", *names],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            proc = None  # no helper: the run compiles everything itself, as without one
    try:
        yield proc
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _main(argv: list[str]) -> int:
    from numba.core import sigutils

    wanted = {tuple(a.split(":", 1)) for a in argv}
    for module, name, sig in KERNELS:
        if not wanted or (module, name) in wanted:
            # the argument types, not the string: numba files a string-compiled overload
            # in its cache under the string, where a call never finds it
            args, _ = sigutils.normalize_signature(sig)
            _dispatcher(module, name).compile(tuple(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
