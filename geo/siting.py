"""Resettlement sites (安置点) and the capacitated allocation of people to them.

* :func:`sites_from_suitability` turns contiguous suitable patches of the suitability
  raster into candidate sites with a capacity (area x people per hectare); a patch larger
  than the area cap is cut into pieces within the cap, each its own site;
* :func:`merge_planner_sites` adds the planner's own sites (the optional ``sites`` layer),
  used as given and possibly locked in;
* :func:`allocate` solves the capacitated facility-location model exactly with HiGHS
  (highspy): minimise population-weighted travel time (plus a penalty for leaving the
  township) plus the opening cost of the sites opened, with a minimum occupancy for an
  open site, whole villages by default, an optional number of sites to open, locked
  sites, and a limit on the time back to the old village's fields. Villages that cannot be
  placed are listed with a reason in Chinese and English, never a crash. The status is
  "optimal" only when HiGHS proved it for the model solved;
* :func:`allocate_heuristic` answers the same model in under a second (greedy start, local
  search, re-partitioning of neighbouring sites), with the gap to the LP bound, for the
  dashboard's scenarios;
* :func:`greedy_allocate` is the baseline with the same inputs and outputs;
* :func:`site_selection_frequency` / :func:`robustness` count how often each site is chosen
  over Monte Carlo draws of the suitability weights.

Travel minutes come from ``geo.access``; this module only reads the cost matrix.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import geopandas as gpd
import highspy
import numpy as np
import pandas as pd
import rasterio.features
import scipy.sparse as sp
import shapely
from affine import Affine
from numba import njit

from layers.errors import LayerSchemaError, PolicyError

__all__ = [
    "AllocationResult",
    "sites_from_suitability",
    "site_pieces",
    "SitePieces",
    "merge_planner_sites",
    "allocate",
    "allocate_heuristic",
    "greedy_allocate",
    "site_selection_frequency",
    "robustness",
    "match_sites",
]

_ASSIGN_COLS = ["village_id", "site_id", "people", "travel_min"]
_UNPLACED_COLS = ["village_id", "people", "reason_code", "reason_en", "reason_zh"]


# --------------------------------------------------------------------------- candidate sites


def _quiet_highs() -> highspy.Highs:
    """A ``highspy.Highs`` without its copyright banner on stdout.

    HiGHS prints the banner from C++ when the object is built, before any option can
    be set; it would break the pipeline's progress bar and a CLI's clean output. The
    process-level stdout is muted for that one call only.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (captured, notebook)
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            return highspy.Highs()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


#: HiGHS keeps one thread scheduler per process, sized by the first solve that runs; a later
#: solve that asks for another size fails at once (status "not set", no solution). A batch or
#: Dask worker changes its thread share between counties, so the size is tracked here.
@dataclass
class _Scheduler:
    threads: int | None = None  # the size anju gave it last; None: HiGHS's own or unknown
    running: int = 0  # solves running now


_SCHEDULER_LOCK = threading.Lock()
_scheduler = _Scheduler()


@contextmanager
def _highs_threads(requested: int | None) -> Iterator[int]:
    """The ``threads`` option for one HiGHS solve: ``requested`` when no other solve runs in
    this process (the scheduler is rebuilt when its size differs); while another one runs,
    the size in use (0 = the scheduler as it is), since rebuilding it would pull it from
    under that solve. ``None`` asks for no particular size."""
    with _SCHEDULER_LOCK:
        if requested is not None and requested != _scheduler.threads and not _scheduler.running:
            highspy.Highs.resetGlobalScheduler(True)
            _scheduler.threads = int(requested)
        use = _scheduler.threads or 0
        _scheduler.running += 1
    try:
        yield use
    finally:
        with _SCHEDULER_LOCK:
            _scheduler.running -= 1


@njit(cache=True, nogil=True)
def _find_root(parent: np.ndarray, x: int) -> int:  # pragma: no cover - numba
    """The root of ``x`` in the union-find forest ``parent``, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def _label8_flat(box, h, w, lab):  # pragma: no cover - numba
    """8-connected components of the flat boolean ``box`` (``h`` rows of ``w``), numbered
    1.. in raster order of their first cell and written into ``lab`` (flat int32, 0 off
    the cells): the labels ``scipy.ndimage.label`` gives with a full 3x3 structure, without
    its per-call overhead (the patch cutting labels hundreds of small boxes). Returns the
    number of components."""
    parent = np.empty(h * w, dtype=np.int64)
    for i in range(h * w):
        parent[i] = i
    for r in range(h):
        for c in range(w):
            i = r * w + c
            if not box[i]:
                continue
            for k in range(4):  # the neighbours already visited: NW, N, NE, W
                rr = r - 1 if k < 3 else r
                cc = c + k - 1 if k < 3 else c - 1
                if 0 <= rr < h and 0 <= cc < w and box[rr * w + cc]:
                    a = _find_root(parent, i)
                    b = _find_root(parent, rr * w + cc)
                    if a != b:
                        if a < b:
                            parent[b] = a
                        else:
                            parent[a] = b
    n = 0
    first = np.zeros(h * w, dtype=np.int32)  # root -> label, 0 = not yet numbered
    for i in range(h * w):
        lab[i] = 0
        if box[i]:
            root = _find_root(parent, i)
            if first[root] == 0:
                n += 1
                first[root] = n
            lab[i] = first[root]
    return n


def _label8(box: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`_label8_flat` on a 2-D boolean array: its labels (int32, same shape) and count."""
    b = np.ascontiguousarray(box, dtype=bool)
    h, w = b.shape
    lab = np.empty(h * w, dtype=np.int32)
    n = _label8_flat(b.ravel(), h, w, lab)
    return lab.reshape(h, w), int(n)


def _split_patch(
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    max_cells: int,
    min_cells: int,
    xres: float,
    yres: float,
) -> list[np.ndarray]:
    """Cut one connected patch into connected pieces of at most ``max_cells`` cells.

    Recursive bisection: a piece too large is cut across its longer axis (in metres) at
    the cell count that leaves ``floor(k/2)/k`` of it on one side (k = the pieces it needs),
    and each side's 8-connected components are cut again if still too large. Leftover
    components smaller than ``min_cells`` join a touching piece that has room; those that
    fit nowhere are dropped (like any patch below the minimum area).
    Returns index arrays into ``rows``/``cols``, one per piece.
    """
    n = len(rows)
    if n <= max_cells:
        return [np.arange(n)]
    rr = np.asarray(rows, dtype=np.int64) - int(np.min(rows))
    cc = np.asarray(cols, dtype=np.int64) - int(np.min(cols))
    cells, bounds = _split_patch_kernel(
        rr, cc, int(max_cells), int(min_cells), float(xres), float(yres)
    )
    return [cells[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]


@njit(cache=True, nogil=True)
def _round_half_even(x: float) -> int:  # pragma: no cover - numba
    """Python's ``round(x)`` for a float: halves go to the even integer."""
    f = math.floor(x)
    d = x - f
    if d > 0.5 or (d == 0.5 and int(f) % 2 == 1):
        return int(f) + 1
    return int(f)


@njit(cache=True, nogil=True)
def _sort_segment(perm, tmp, keys, s, e):  # pragma: no cover - numba
    """Reorder ``perm[s:e]`` stably by ``keys[perm[t]]`` (non-negative integers of a small
    range): a counting sort through the work array ``tmp`` (numba's np.argsort takes
    seconds to compile)."""
    if e <= s:
        return
    lo = keys[perm[s]]
    hi = lo
    for t in range(s, e):
        v = keys[perm[t]]
        lo = min(lo, v)
        hi = max(hi, v)
    at = np.zeros(hi - lo + 2, dtype=np.int64)
    for t in range(s, e):
        at[keys[perm[t]] - lo + 1] += 1
    for q in range(1, at.shape[0]):
        at[q] += at[q - 1]
    for t in range(s, e):
        v = keys[perm[t]] - lo
        tmp[at[v]] = perm[t]
        at[v] += 1
    for t in range(e - s):
        perm[s + t] = tmp[t]


@njit(cache=True, nogil=True)
def _segment_box(perm, rr, cc, s, e):  # pragma: no cover - numba
    """The bounding box (row min, row max, column min, column max) of the cells
    ``perm[s:e]`` (at least one)."""
    r0 = r1 = rr[perm[s]]
    c0 = c1 = cc[perm[s]]
    for t in range(s, e):
        r0 = min(r0, rr[perm[t]])
        r1 = max(r1, rr[perm[t]])
        c0 = min(c0, cc[perm[t]])
        c1 = max(c1, cc[perm[t]])
    return r0, r1, c0, c1


@njit(cache=True, nogil=True)
def _split_patch_kernel(rr, cc, max_cells, min_cells, xres, yres):  # pragma: no cover - numba
    """:func:`_split_patch` on cell offsets ``rr``/``cc`` (int64, from 0): the pieces'
    indices, concatenated in order, and where each piece starts (one more bound than
    pieces). The steps, and so the pieces and their cells' order, are those of the
    original NumPy version (kept in tests/test_siting.py as the reference).

    No lists (numba compiles lists of arrays slowly): the cells are one permutation,
    reordered in place; a piece is a segment of it, a stack holds the segments still to
    cut, and a merged piece is a chain of segments. Scalar loops only, no array expressions,
    fancy indexing or slice assignments: each of those costs numba a second or more to
    compile, and a cold ``anju run`` compiles this kernel."""
    n = rr.shape[0]
    perm = np.empty(n, dtype=np.int64)
    for i in range(n):
        perm[i] = i
    tmp = np.empty(n, dtype=np.int64)
    st_s = np.empty(n + 1, dtype=np.int64)  # the stack of segments [s, e) still to cut
    st_e = np.empty(n + 1, dtype=np.int64)
    st_s[0] = 0
    st_e[0] = n
    top = 1
    seg_s = np.empty(n, dtype=np.int64)  # the finished pieces, in the order they finish
    seg_e = np.empty(n, dtype=np.int64)
    # np.int64(0), not 0: a literal 0 makes numba compile the callees once more for it
    npieces = np.int64(0)
    while top > 0:
        top -= 1
        s = st_s[top]
        e = st_e[top]
        m = e - s
        if m <= max_cells:
            seg_s[npieces] = s
            seg_e[npieces] = e
            npieces += 1
            continue
        k = (m + max_cells - 1) // max_cells
        r0, r1, c0, c1 = _segment_box(perm, rr, cc, s, e)
        wide = (c1 - c0 + 1) * xres >= (r1 - r0 + 1) * yres
        # column-major (wide) or row-major order of the cells (np.lexsort's): two stable
        # counting sorts, the minor axis first
        if wide:
            _sort_segment(perm, tmp, rr, s, e)
            _sort_segment(perm, tmp, cc, s, e)
        else:
            _sort_segment(perm, tmp, cc, s, e)
            _sort_segment(perm, tmp, rr, s, e)
        cut = min(max(_round_half_even(m * (k // 2) / k), 1), m - 1)
        for side in range(2):
            a = s if side == 0 else s + cut
            b = s + cut if side == 0 else e
            r0, r1, c0, c1 = _segment_box(perm, rr, cc, a, b)
            h = r1 - r0 + 1
            w = c1 - c0 + 1
            box = np.zeros(h * w, dtype=np.bool_)
            for t in range(a, b):
                box[(rr[perm[t]] - r0) * w + cc[perm[t]] - c0] = True
            lab = np.empty(h * w, dtype=np.int32)
            nl = _label8_flat(box, h, w, lab)
            if nl == 1:
                st_s[top] = a
                st_e[top] = b
                top += 1
                continue
            # the part's cells grouped by component, components in label order, each
            # keeping its cells' order (a counting sort: stable)
            comp = np.empty(b - a, dtype=np.int64)
            first = np.zeros(nl + 2, dtype=np.int64)
            for t in range(b - a):
                comp[t] = lab[(rr[perm[a + t]] - r0) * w + cc[perm[a + t]] - c0]
                first[comp[t] + 1] += 1
            for q in range(1, nl + 2):
                first[q] += first[q - 1]
            at = np.empty(nl + 2, dtype=np.int64)
            for q in range(nl + 2):
                at[q] = first[q]
            for t in range(b - a):
                tmp[at[comp[t]]] = perm[a + t]
                at[comp[t]] += 1
            for t in range(b - a):
                perm[a + t] = tmp[t]
            for q in range(1, nl + 1):
                st_s[top] = a + first[q]
                st_e[top] = a + first[q + 1]
                top += 1
    return _merge_leftovers(rr, cc, perm, seg_s, seg_e, npieces, max_cells, min_cells)


@njit(cache=True, nogil=True)
def _merge_leftovers(rr, cc, perm, seg_s, seg_e, npieces, max_cells, min_cells):  # pragma: no cover
    """The second step of :func:`_split_patch_kernel`: pieces (the first ``npieces``
    segments of ``perm``) smaller than ``min_cells`` join a touching piece with room,
    smallest first; the rest is dropped. Returns the kept pieces' cells, concatenated, and
    their bounds."""
    rmax = 0
    cmax = 0
    for i in range(rr.shape[0]):
        rmax = max(rmax, rr[i])
        cmax = max(cmax, cc[i])
    sizes = np.empty(npieces, dtype=np.int64)
    alive = np.empty(npieces, dtype=np.bool_)
    # each piece is a chain of segments (segment g: seg_s[g]..seg_e[g]; the next: nxt[g])
    head = np.empty(npieces, dtype=np.int64)
    tail = np.empty(npieces, dtype=np.int64)
    nxt = np.empty(npieces, dtype=np.int64)
    for p in range(npieces):
        sizes[p] = seg_e[p] - seg_s[p]
        alive[p] = True
        head[p] = p
        tail[p] = p
        nxt[p] = -1
    if min_cells > 1:
        # small leftovers join a touching piece with room, smallest first
        wd = cmax + 1
        owner = np.empty((rmax + 1) * wd, dtype=np.int64)
        for i in range(owner.shape[0]):
            owner[i] = -1
        for p in range(npieces):
            for t in range(seg_s[p], seg_e[p]):
                owner[rr[perm[t]] * wd + cc[perm[t]]] = p
        order = np.empty(npieces, dtype=np.int64)
        for p in range(npieces):
            order[p] = p
        _sort_segment(
            order, np.empty(npieces, dtype=np.int64), sizes, np.int64(0), npieces
        )  # stable
        for small in order:
            if sizes[small] >= min_cells:
                continue
            to = -1  # the smallest touching live piece with room (then the lowest number)
            g = head[small]
            while g != -1:
                for t in range(seg_s[g], seg_e[g]):
                    for dr in range(-1, 2):
                        for dc in range(-1, 2):
                            y = rr[perm[t]] + dr
                            x = cc[perm[t]] + dc
                            if (dr == 0 and dc == 0) or y < 0 or x < 0 or y > rmax or x > cmax:
                                continue
                            o = owner[y * wd + x]
                            if o < 0 or o == small or not alive[o]:
                                continue
                            if sizes[o] + sizes[small] > max_cells:
                                continue
                            if (
                                to == -1
                                or sizes[o] < sizes[to]
                                or (sizes[o] == sizes[to] and o < to)
                            ):
                                to = o
                g = nxt[g]
            alive[small] = False
            g = head[small]
            while g != -1:
                for t in range(seg_s[g], seg_e[g]):
                    owner[rr[perm[t]] * wd + cc[perm[t]]] = to
                g = nxt[g]
            if to >= 0:
                nxt[tail[to]] = head[small]
                tail[to] = tail[small]
                sizes[to] += sizes[small]
    count = 0
    total = 0
    for p in range(npieces):
        if alive[p] and sizes[p] >= min_cells:
            count += 1
            total += sizes[p]
    cells = np.empty(total, dtype=np.int64)
    bounds = np.zeros(count + 1, dtype=np.int64)
    j = 0
    w = 0
    for p in range(npieces):
        if alive[p] and sizes[p] >= min_cells:
            g = head[p]
            while g != -1:
                for t in range(seg_s[g], seg_e[g]):
                    cells[w] = perm[t]
                    w += 1
                g = nxt[g]
            j += 1
            bounds[j] = w
    return cells, bounds


@dataclass
class SitePieces:
    """Candidate sites as cells, before they become polygons (see :func:`site_pieces`).

    Attributes
    ----------
    cells : list of numpy.ndarray
        Flat cell indices (row-major, ascending) of each site, in site rank order.
    suitability : list of float
        Mean suitability of each site.
    patch_rank : list of int
        Rank (0-based) of the patch each site was cut from.
    patch_area_ha : list of float
        Area of that patch.
    shape : tuple of int
        The raster's shape.
    """

    cells: list[np.ndarray]
    suitability: list[float]
    patch_rank: list[int]
    patch_area_ha: list[float]
    shape: tuple[int, int]

    def label_raster(self) -> np.ndarray:
        """int32 raster: 0 outside every site, ``k + 1`` on the cells of site ``k``."""
        lab = np.zeros(self.shape[0] * self.shape[1], dtype=np.int32)
        for k, c in enumerate(self.cells):
            lab[c] = k + 1
        return lab.reshape(self.shape)


def site_pieces(
    suit: np.ndarray,
    *,
    cell_ha: float,
    xres: float,
    yres: float,
    threshold: float,
    min_area_ha: float,
    max_sites: int | None = None,
    max_area_ha: float | None = None,
) -> SitePieces:
    """The cells of every candidate site of :func:`sites_from_suitability`, without polygons.

    The same patches, cuts, order and ``max_sites`` cap as :func:`sites_from_suitability`
    (which polygonises these pieces); the Monte Carlo robustness draws use this directly,
    since only which cells a site covers matters there.
    """
    s = np.asarray(suit)
    flat_s = s.ravel()
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero(flat_s >= np.float64(threshold))  # in float64, whatever the dtype
    return site_pieces_at(
        idx,
        flat_s[idx],
        (int(s.shape[0]), int(s.shape[1])),
        cell_ha=cell_ha,
        xres=xres,
        yres=yres,
        threshold=threshold,
        min_area_ha=min_area_ha,
        max_sites=max_sites,
        max_area_ha=max_area_ha,
    )


@njit(cache=True, nogil=True)
def _label_cells8(idx: np.ndarray, width: int) -> tuple[np.ndarray, int]:  # pragma: no cover
    """8-connected components of the cells ``idx`` (flat, ascending) of a raster ``width``
    wide, numbered 1.. in raster order of their first cell (``scipy.ndimage.label``'s
    numbering with a full 3x3 structure), one label per entry of ``idx``; the raster itself
    is never built, so a few suitable cells of a large county cost only their own number."""
    n = len(idx)
    parent = np.arange(n, dtype=np.int64)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb

    p = 0  # first entry that may touch the current cell from the row above
    for k in range(n):
        i = idx[k]
        r = i // width
        c = i - r * width
        if k > 0 and c > 0 and idx[k - 1] == i - 1:
            union(k, k - 1)  # W
        if r > 0:
            lo = i - width - 1 if c > 0 else i - width  # NW (or N on the first column)
            hi = i - width + 1 if c < width - 1 else i - width  # NE (or N on the last)
            while p < k and idx[p] < lo:
                p += 1
            q = p
            while q < k and idx[q] <= hi:
                union(k, q)
                q += 1
    lab = np.empty(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    nl = 0
    for k in range(n):
        root = find(k)
        if first[root] == 0:
            nl += 1
            first[root] = nl
        lab[k] = first[root]
    return lab, nl


def site_pieces_at(
    cells: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    *,
    cell_ha: float,
    xres: float,
    yres: float,
    threshold: float,
    min_area_ha: float,
    max_sites: int | None = None,
    max_area_ha: float | None = None,
) -> SitePieces:
    """:func:`site_pieces` of a raster given only where it may reach the threshold: the
    suitability ``values`` of the flat, ascending cell indices ``cells`` of a raster of
    ``shape`` (every other cell blank). The Monte Carlo draws score only the cells that
    are not excluded, and cut their sites from those."""
    shape = (int(shape[0]), int(shape[1]))
    none = SitePieces([], [], [], [], shape)
    with np.errstate(invalid="ignore"):
        ok = values >= np.float64(threshold)  # compared in float64, whatever the dtype
    idx = np.asarray(cells, dtype=np.int64)[ok]  # ascending: each patch's cells in row-major order
    v_ok = values[ok]
    lab_at, n = _label_cells8(idx, shape[1])
    if n == 0:
        return none
    vals = v_ok.astype(float)
    counts = np.bincount(lab_at, minlength=n + 1)
    sums = np.bincount(lab_at, weights=vals, minlength=n + 1)
    area = counts * cell_ha
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    # a patch needs at least min_area_ha (with a hair of slack for float cell areas)
    labs = np.flatnonzero((area >= min_area_ha - 1e-9) & (counts > 0))
    labs = labs[labs > 0]
    if not len(labs):
        return none
    keep = labs[np.lexsort((labs, -area[labs], -mean[labs]))]
    max_cells = (
        max(int(math.floor(max_area_ha / cell_ha + 1e-9)), 1) if max_area_ha is not None else None
    )
    min_cells = max(int(math.ceil(min_area_ha / cell_ha - 1e-9)), 1)
    # each kept patch's cells: group the suitable cells by label (stable keeps row-major order)
    kept = np.zeros(n + 1, dtype=bool)
    kept[keep] = True
    sel = kept[lab_at]
    k_idx, k_lab, k_val = idx[sel], lab_at[sel], v_ok[sel]
    order = np.argsort(k_lab, kind="stable")
    k_idx, k_lab, k_val = k_idx[order], k_lab[order], k_val[order]
    bounds = np.searchsorted(k_lab, np.arange(n + 2))
    width = shape[1]
    # pieces: (round, -mean, -area, patch rank, cells as flat indices)
    pieces: list[tuple[int, float, float, int, np.ndarray]] = []
    for prank, lab in enumerate(keep):
        flat = k_idx[bounds[lab] : bounds[lab + 1]]
        fval = k_val[bounds[lab] : bounds[lab + 1]]
        if max_cells is None or len(flat) <= max_cells:
            parts = [np.arange(len(flat))]
        else:
            rr, cc = np.divmod(flat, width)
            parts = _split_patch(
                rr, cc, max_cells=max_cells, min_cells=min_cells, xres=xres, yres=yres
            )
        stats = sorted(
            ((-float(fval[p].astype(float).mean()), -len(p) * cell_ha, flat[p]) for p in parts),
            key=lambda t: (t[0], t[1]),
        )
        for rnd, (nm, na, c) in enumerate(stats):
            pieces.append((rnd, nm, na, prank, c))
    pieces.sort(key=lambda t: (t[0], t[1], t[2], t[3]))
    if max_sites is not None:
        pieces = pieces[: int(max_sites)]
    return SitePieces(
        cells=[pc[4] for pc in pieces],
        suitability=[-pc[1] for pc in pieces],
        patch_rank=[pc[3] for pc in pieces],
        patch_area_ha=[float(area[keep[pc[3]]]) for pc in pieces],
        shape=shape,
    )


def sites_from_suitability(
    suit: np.ndarray,
    *,
    transform: Affine,
    crs,
    threshold: float,
    min_area_ha: float,
    people_per_ha: float,
    max_sites: int | None = None,
    max_area_ha: float | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from contiguous patches of suitable land.

    Parameters
    ----------
    suit : numpy.ndarray
        Suitability raster (0..1, NaN excluded) on a metric grid.
    transform : affine.Affine
        The grid's transform (cell size in metres).
    crs
        The grid's CRS (metric); given to the output.
    threshold : float
        Cells with ``suit >= threshold`` are suitable.
    min_area_ha : float
        Patches (and pieces left over from cutting) smaller than this are dropped.
    people_per_ha : float
        Gross resettlement density; ``capacity_people = floor(area_ha * people_per_ha)``.
    max_sites : int, optional
        Keep only the best ``max_sites`` sites: every patch's best piece first (by mean
        suitability, then area), then the second pieces of the patches that were cut, and
        so on, so a large valley floor does not crowd out every other patch.
    max_area_ha : float, optional
        Largest site: one site is one construction project. A patch larger than this is
        cut into connected pieces of at most ``max_area_ha`` each (recursive bisection
        along the longer axis), each its own site with its own capacity; no site exceeds
        the cap, and the pieces' areas add up to the patch's (leftover slivers below
        ``min_area_ha`` join a neighbouring piece with room, or are dropped).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id`` ("S001", ... by rank), ``name``, ``area_ha``, ``capacity_people``,
        ``suitability`` (mean over the site), ``source`` ("generated"), ``locked`` (False),
        ``patch_id`` (the patch a site was cut from, "P001"... by patch rank),
        ``patch_area_ha``, ``rep_x``/``rep_y`` (a representative point inside the site, for
        travel times), geometry (polygon, 8-connected cells).

    Raises
    ------
    PolicyError
        If threshold, areas or density are invalid.
    """
    for name, val in (("min_area_ha", min_area_ha), ("people_per_ha", people_per_ha)):
        if not np.isfinite(val) or val < 0:
            raise PolicyError(f"sites_from_suitability: {name} must be >= 0, found {val}")
    if not np.isfinite(threshold):
        raise PolicyError(f"sites_from_suitability: threshold must be a number, found {threshold}")
    if max_area_ha is not None and not (max_area_ha > 0 and max_area_ha >= min_area_ha):
        raise PolicyError(
            f"sites_from_suitability: max_area_ha must be > 0 and >= min_area_ha "
            f"({min_area_ha}), found {max_area_ha}"
        )
    cell_ha = abs(transform.a * transform.e - transform.b * transform.d) / 1e4
    cols = [
        "site_id",
        "name",
        "area_ha",
        "capacity_people",
        "suitability",
        "source",
        "locked",
        "patch_id",
        "patch_area_ha",
        "rep_x",
        "rep_y",
    ]
    empty = gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)
    sp_ = site_pieces(
        suit,
        cell_ha=cell_ha,
        xres=abs(transform.a),
        yres=abs(transform.e),
        threshold=threshold,
        min_area_ha=min_area_ha,
        max_sites=max_sites,
        max_area_ha=max_area_ha,
    )
    pieces = sp_.cells
    if not pieces:
        return empty
    site_lab = sp_.label_raster()
    parts_geom: dict[int, list] = {k + 1: [] for k in range(len(pieces))}
    for geom, val in rasterio.features.shapes(
        site_lab, mask=site_lab > 0, transform=transform, connectivity=8
    ):
        parts_geom[int(val)].append(shapely.geometry.shape(geom))
    geoms = [shapely.union_all(parts_geom[k + 1]) for k in range(len(pieces))]
    reps = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    site_area = np.array([len(pc) * cell_ha for pc in pieces])
    ids = [f"S{i + 1:03d}" for i in range(len(pieces))]
    return gpd.GeoDataFrame(
        {
            "site_id": ids,
            "name": ids,
            "area_ha": site_area,
            "capacity_people": np.floor(site_area * people_per_ha + 1e-9).astype(np.int64),
            "suitability": sp_.suitability,
            "source": "generated",
            "locked": False,
            "patch_id": [f"P{r + 1:03d}" for r in sp_.patch_rank],
            "patch_area_ha": sp_.patch_area_ha,
            "rep_x": shapely.get_x(reps),
            "rep_y": shapely.get_y(reps),
        },
        geometry=geoms,
        crs=crs,
    )


def merge_planner_sites(
    generated: gpd.GeoDataFrame,
    planner_sites: gpd.GeoDataFrame | None,
    *,
    people_per_ha: float | None = None,
    drop_overlapping: bool = True,
) -> gpd.GeoDataFrame:
    """Add the planner's sites to the generated ones; the planner's are used as given.

    Parameters
    ----------
    generated : geopandas.GeoDataFrame
        Output of :func:`sites_from_suitability`.
    planner_sites : geopandas.GeoDataFrame or None
        The ``sites`` layer: ``site_id``, ``name``, optional ``capacity_people``, ``locked``.
    people_per_ha : float, optional
        Capacity for a planner polygon without ``capacity_people``; a planner point without
        a capacity is an error.
    drop_overlapping : bool
        Drop generated sites that intersect a planner site (the same land counted twice).

    Returns
    -------
    geopandas.GeoDataFrame
        Planner sites first (``source`` = "planner", ``locked`` kept, default False), then
        generated ones; generated ids that clash with a planner id get a ``-gen`` suffix.

    Raises
    ------
    LayerSchemaError
        A planner site without ``site_id``, duplicated ids, or a capacity that is missing
        (and cannot be derived from its area) or negative.
    """
    if planner_sites is None or len(planner_sites) == 0:
        return generated.copy()
    ps = planner_sites.copy()
    if "site_id" not in ps.columns:
        raise LayerSchemaError(f"sites: expected column 'site_id', found {list(ps.columns)}")
    ps["site_id"] = ps["site_id"].astype(str)
    dup = ps["site_id"][ps["site_id"].duplicated()].tolist()
    if dup:
        raise LayerSchemaError(f"sites: site_id must be unique, found duplicates {dup}")
    if generated.crs is not None and ps.crs is not None and ps.crs != generated.crs:
        ps = ps.to_crs(generated.crs)
    cap = (
        pd.to_numeric(ps["capacity_people"], errors="coerce")
        if "capacity_people" in ps
        else pd.Series(np.nan, index=ps.index)
    )
    area_ha = ps.geometry.area / 1e4
    problems = []
    for idx in ps.index:
        c = cap[idx]
        if pd.isna(c):
            if people_per_ha is not None and area_ha[idx] > 0:
                cap[idx] = math.floor(area_ha[idx] * people_per_ha)
            else:
                problems.append(
                    f"site {ps.at[idx, 'site_id']!r}: capacity_people missing and no area to derive it"
                )
        elif c < 0:
            problems.append(
                f"site {ps.at[idx, 'site_id']!r}: capacity_people must be >= 0, found {c}"
            )
    if problems:
        raise LayerSchemaError("sites: " + "; ".join(problems))
    ps["capacity_people"] = cap.astype(np.int64)
    ps["locked"] = ps["locked"].fillna(False).astype(bool) if "locked" in ps else False
    ps["source"] = "planner"
    if "name" not in ps:
        ps["name"] = ps["site_id"]
    ps["area_ha"] = area_ha.where(area_ha > 0)
    if "suitability" not in ps:
        ps["suitability"] = np.nan
    reps = shapely.point_on_surface(ps.geometry.values)
    ps["rep_x"], ps["rep_y"] = shapely.get_x(reps), shapely.get_y(reps)
    gen = generated.copy()
    if drop_overlapping and len(gen):
        hit = gen.geometry.intersects(ps.geometry.union_all())
        gen = gen[~hit.to_numpy()]
    clash = gen["site_id"].isin(set(ps["site_id"]))
    gen.loc[clash, "site_id"] = gen.loc[clash, "site_id"] + "-gen"
    merged = pd.concat([ps, gen], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=generated.crs or ps.crs)


def match_sites(base: gpd.GeoDataFrame, other: gpd.GeoDataFrame) -> dict[str, str]:
    """Map each site of ``other`` to the ``base`` site it overlaps most (for robustness runs).

    Generated site ids are ranks and change between runs; the largest overlap by area
    (or containment of the representative point for zero-area sites) ties a run's sites to
    the base set. Sites overlapping no base site are left out of the mapping.
    """
    out: dict[str, str] = {}
    if len(base) == 0 or len(other) == 0:
        return out
    bgeoms = base.geometry.values
    tree = shapely.STRtree(bgeoms)
    for sid, g in zip(other["site_id"], other.geometry.values, strict=True):
        cand = tree.query(g, predicate="intersects")
        if len(cand) == 0:
            continue
        areas = shapely.area(shapely.intersection(bgeoms[cand], g))
        out[str(sid)] = str(base["site_id"].iloc[cand[int(np.argmax(areas))]])
    return out


# --------------------------------------------------------------------------- allocation


@dataclass
class AllocationResult:
    """Result of :func:`allocate`, :func:`allocate_heuristic` and :func:`greedy_allocate`.

    Attributes
    ----------
    assignments : pandas.DataFrame
        ``village_id``, ``site_id``, ``people``, ``travel_min`` (one row per village, or per
        village and site when splitting).
    unplaced : pandas.DataFrame
        ``village_id``, ``people``, ``reason_code`` (``no_site_reachable``, ``no_site_within_limit``,
        ``village_too_large``, ``sites_below_min_occupancy``, ``capacity_shortfall``,
        ``below_min_occupancy``, ``no_room``, ``solver_no_solution``), ``reason_en``, ``reason_zh``.
    site_load : pandas.DataFrame
        ``site_id``, ``capacity_people``, ``assigned_people``, ``open`` (bool),
        ``min_occupancy`` and ``opening_cost``.
    status : str
        ``optimal`` only when HiGHS proved it for the model solved (gap 0); ``gap_limit``
        (HiGHS stopped at the requested relative gap ``mip_gap``: within it, not proven
        optimal); ``time_limit`` (HiGHS stopped with an incumbent and its gap),
        ``infeasible``, ``heuristic`` (local search or
        greedy: nothing proved), ``nothing_to_place`` (no one to move), ``no_sites`` (no
        candidate site), ``none_placeable`` (every village was excluded before solving, see
        ``unplaced``), or HiGHS's status text for other stops.
    mip_gap : float
        Relative gap ``(objective - lower bound) / objective``: HiGHS's MIP gap for
        :func:`allocate` (0 when optimal); for :func:`allocate_heuristic` the gap to the LP
        bound when one was computed; NaN when no bound is known.
    objective : float
        The model's objective: person-minutes (travel + township penalty) of the placed
        people plus the opening cost of the open sites.
    solve_s : float
        Wall-clock seconds (model build and solve).
    method : str
        ``highs``, ``local_search`` or ``greedy``.
    notes : list of str
        What happened on the way (e.g. "capacity short: second phase used").
    opening_cost : float
        The part of ``objective`` that is opening cost.
    lower_bound : float
        A proven lower bound on the model's objective (HiGHS's dual bound, or the LP bound
        of the heuristic); NaN when unknown.
    """

    assignments: pd.DataFrame
    unplaced: pd.DataFrame
    site_load: pd.DataFrame
    status: str
    mip_gap: float
    objective: float
    solve_s: float
    method: str
    notes: list[str] = field(default_factory=list)
    opening_cost: float = 0.0
    lower_bound: float = math.nan

    @property
    def open_sites(self) -> list[str]:
        """Ids of sites that are open (chosen or locked) in this result."""
        return self.site_load.loc[self.site_load["open"], "site_id"].tolist()

    @property
    def placed_people(self) -> float:
        """People assigned to a site."""
        return float(self.assignments["people"].sum())

    @property
    def unplaced_people(self) -> float:
        """People left out (listed in ``unplaced``)."""
        return float(self.unplaced["people"].sum())

    @property
    def travel_objective(self) -> float:
        """Person-minutes of travel (with the township penalty), without opening costs."""
        return self.objective - self.opening_cost


@dataclass
class _Problem:
    vid: np.ndarray  # village ids (str)
    people: np.ndarray  # int64
    sid: np.ndarray  # site ids (str)
    cap: np.ndarray  # int64
    locked: np.ndarray  # bool
    travel: np.ndarray  # (n, m) float, NaN unreachable
    cost: np.ndarray  # (n, m) travel + township penalty
    allowed: np.ndarray  # (n, m) bool
    active: np.ndarray  # (n,) bool: villages entering the optimisation
    unplaced: list[dict]
    p: int | None
    split: bool
    fcost: np.ndarray  # (m,) opening cost, person-minutes
    minocc: np.ndarray  # (m,) minimum occupancy of an open site (0 for locked sites)
    can_open: np.ndarray  # (m,) bool: locked, or capacity >= minimum occupancy

    @property
    def use_y(self) -> bool:
        """Whether the model needs open/closed site variables."""
        return self.p is not None or bool(np.any(self.fcost > 0)) or bool(np.any(self.minocc > 0))


#: A solution as the heuristics return it and HiGHS takes it as a start:
#: (village row, site column, people) rows, open-site mask, left-out village rows and
#: the people each of them leaves out.
_Start = tuple[list[tuple[int, int, float]], np.ndarray, list[int], dict[int, int]]


@dataclass(frozen=True)
class _HighsOptions:
    """Solver options of one :func:`_solve_highs` call (see :func:`allocate`)."""

    time_limit_s: float
    mip_gap: float
    threads: int | None
    presolve: str
    start: _Start | None = None
    p_at_most: bool = False  # sum y <= p instead of = p (p sites cannot all be filled)


def _reason(code: str, vid: str, people: int, en: str, zh: str) -> dict:
    return {
        "village_id": vid,
        "people": people,
        "reason_code": code,
        "reason_en": en,
        "reason_zh": zh,
    }


def _per_site(value: float | Sequence[float] | np.ndarray, m: int, name: str) -> np.ndarray:
    """A scalar or a per-site array as a float array of length m (>= 0, finite)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(m, float(arr))
    if arr.shape != (m,):
        raise LayerSchemaError(
            f"allocate: {name} must be a number or one value per site ({m}), found shape {arr.shape}"
        )
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise PolicyError(
            f"allocate: {name} must be >= 0, found {arr[bad][0]} at site {int(np.argmax(bad))}"
        )
    return arr


def _prepare(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None,
    max_return_min: float | None,
    township_penalty_min: float,
    split: bool,
    opening_cost: float | Sequence[float] | np.ndarray = 0.0,
    min_occupancy: float | Sequence[float] | np.ndarray = 0.0,
) -> _Problem:
    problems = []
    for name, df, need in (
        ("demand", demand, ["village_id", "people"]),
        ("sites", sites, ["site_id", "capacity_people"]),
    ):
        missing = [c for c in need if c not in df.columns]
        if missing:
            problems.append(f"{name}: expected columns {missing}, found {list(df.columns)}")
    if problems:
        raise LayerSchemaError("allocate: " + "; ".join(problems))
    n, m = len(demand), len(sites)
    travel = np.asarray(cost_min, dtype=float)
    if travel.shape != (n, m):
        raise LayerSchemaError(
            f"allocate: cost_min must have shape (villages, sites) = ({n}, {m}), found {travel.shape}"
        )
    if np.any(travel < 0):
        i, j = np.argwhere(travel < 0)[0]
        raise LayerSchemaError(
            f"allocate: cost_min must be >= 0, found {travel[i, j]} at village row {i}, site {j}"
        )
    vid = demand["village_id"].astype(str).to_numpy()
    sid = sites["site_id"].astype(str).to_numpy()
    for what, ids in (("village_id", vid), ("site_id", sid)):
        u, c = np.unique(ids, return_counts=True)
        if np.any(c > 1):
            raise LayerSchemaError(
                f"allocate: {what} must be unique, found duplicates {u[c > 1][:5].tolist()}"
            )
    people = pd.to_numeric(demand["people"], errors="coerce").to_numpy(dtype=float)
    cap = pd.to_numeric(sites["capacity_people"], errors="coerce").to_numpy(dtype=float)
    if np.any(~np.isfinite(people)) or np.any(people < 0) or np.any(people != np.round(people)):
        raise LayerSchemaError(
            f"allocate: demand.people must be whole numbers >= 0, found {people[:10].tolist()}"
        )
    if np.any(~np.isfinite(cap)) or np.any(cap < 0):
        raise LayerSchemaError(
            f"allocate: sites.capacity_people must be >= 0, found {cap[:10].tolist()}"
        )
    people = people.astype(np.int64)
    cap = np.floor(cap).astype(np.int64)
    locked = (
        sites["locked"].fillna(False).astype(bool).to_numpy()
        if "locked" in sites.columns
        else np.zeros(m, bool)
    )
    fcost = _per_site(opening_cost, m, "opening_cost")
    # whole people: a minimum of 49.5 means 50
    minocc = np.ceil(_per_site(min_occupancy, m, "min_occupancy") - 1e-9).clip(min=0)
    minocc[locked] = 0.0  # a locked site is open whatever it receives
    can_open = locked | (cap >= minocc)
    if not np.isfinite(township_penalty_min) or township_penalty_min < 0:
        raise PolicyError(
            f"allocate: township_penalty_min must be >= 0, found {township_penalty_min}"
        )
    if max_return_min is not None and not (max_return_min >= 0):
        raise PolicyError(f"allocate: max_return_min must be >= 0, found {max_return_min}")
    if p is not None:
        if int(p) != p or p < 1 or p > m:
            raise PolicyError(
                f"allocate: p must be an integer in 1..{m} (number of sites), found {p}"
            )
        if locked.sum() > p:
            raise PolicyError(
                f"allocate: {int(locked.sum())} sites are locked but only p={p} may open"
            )
        p = int(p)
    cost = travel.copy()
    if township_penalty_min > 0 and "township" in demand.columns and "township" in sites.columns:
        tv = demand["township"].to_numpy(dtype=object)[:, None]
        ts = sites["township"].to_numpy(dtype=object)[None, :]
        known = pd.notna(tv) & pd.notna(ts)
        cost = cost + np.where(known & (tv != ts), township_penalty_min, 0.0)
    with np.errstate(invalid="ignore"):
        reach = np.isfinite(travel)
        allowed = reach & ((travel <= max_return_min) if max_return_min is not None else True)
    unplaced: list[dict] = []
    active = people > 0
    for i in np.flatnonzero(active):
        if not reach[i].any():
            unplaced.append(
                _reason(
                    "no_site_reachable",
                    vid[i],
                    people[i],
                    "no site is reachable from this village",
                    "没有可达的安置点",
                )
            )
            active[i] = False
        elif not allowed[i].any():
            nearest = float(np.nanmin(travel[i]))
            unplaced.append(
                _reason(
                    "no_site_within_limit",
                    vid[i],
                    people[i],
                    f"no site within {max_return_min:g} min (nearest {nearest:.0f} min)",
                    f"{max_return_min:g} 分钟内没有安置点（最近 {nearest:.0f} 分钟）",
                )
            )
            active[i] = False
        elif not (allowed[i] & can_open).any():
            low = int(minocc[allowed[i]].min())
            unplaced.append(
                _reason(
                    "sites_below_min_occupancy",
                    vid[i],
                    people[i],
                    f"every site within reach is smaller than the minimum occupancy ({low} people)",
                    f"可达安置点的容量均小于集中安置点最低安置人数（{low} 人）",
                )
            )
            active[i] = False
        elif not split and people[i] > cap[allowed[i] & can_open].max():
            big = int(cap[allowed[i] & can_open].max())
            unplaced.append(
                _reason(
                    "village_too_large",
                    vid[i],
                    people[i],
                    f"village of {people[i]} people exceeds the capacity of every reachable site (largest {big})",
                    f"村人口 {people[i]} 人超过任何可达安置点的容量（最大 {big} 人）",
                )
            )
            active[i] = False
    allowed = allowed & can_open[None, :]
    if not split:
        allowed = allowed & (people[:, None] <= cap[None, :])
    allowed &= active[:, None]
    return _Problem(
        vid,
        people,
        sid,
        cap,
        locked,
        travel,
        cost,
        allowed,
        active,
        unplaced,
        p,
        split,
        fcost,
        minocc,
        can_open,
    )


def _usable_capacity(pb: _Problem) -> int:
    """Largest capacity the sites may offer: all that can open, or the locked plus the largest
    others up to p."""
    cap = np.where(pb.can_open, pb.cap, 0)
    if pb.p is None:
        return int(cap.sum())
    others = np.sort(cap[~pb.locked])[::-1]
    return int(cap[pb.locked].sum() + others[: pb.p - int(pb.locked.sum())].sum())


def _shortfall_reasons(
    pb: _Problem,
    rows: Iterable[int],
    demand_total: int,
    usable: int,
    open_mask: np.ndarray | None = None,
) -> list[dict]:
    out = []
    for i in rows:
        reach = pb.allowed[i]
        if demand_total > usable:
            short = demand_total - usable
            en = f"not enough site capacity: demand {demand_total} people, usable capacity {usable} (short by {short})"
            zh = f"安置容量不足：需安置 {demand_total} 人，可用容量 {usable} 人，缺口 {short} 人"
            code = "capacity_shortfall"
        elif (
            open_mask is not None
            and reach.any()
            and not (reach & open_mask).any()
            and (pb.minocc[reach] > pb.people[i]).all()
        ):
            low = int(pb.minocc[reach].min())
            en = (
                "the sites within reach would not reach their minimum occupancy "
                f"({low} people) with the villages that can go there"
            )
            zh = f"可达安置点达不到最低安置人数（{low} 人），未开设"
            code = "below_min_occupancy"
        else:
            en = (
                "reachable sites are full (whole villages cannot be fitted into the remaining room)"
            )
            zh = "可达安置点剩余容量不足以整村安置"
            code = "no_room"
        out.append(_reason(code, pb.vid[i], int(pb.people[i]), en, zh))
    return out


def _result(
    pb: _Problem,
    rows: list[tuple[int, int, float]],
    open_mask: np.ndarray,
    extra_unplaced: list[dict],
    *,
    status: str,
    gap: float,
    t0: float,
    method: str,
    notes: list[str],
    lower_bound: float = math.nan,
) -> AllocationResult:
    load: np.ndarray
    if rows:
        ii = np.array([r[0] for r in rows])
        jj = np.array([r[1] for r in rows])
        ppl = np.array([r[2] for r in rows], dtype=float)
        assignments = pd.DataFrame(
            {
                "village_id": pb.vid[ii],
                "site_id": pb.sid[jj],
                "people": ppl,
                "travel_min": pb.travel[ii, jj],
            }
        )
        if not pb.split or np.allclose(ppl, np.round(ppl)):
            assignments["people"] = np.round(ppl).astype(np.int64)
        travel_obj = float((ppl * pb.cost[ii, jj]).sum())
        load = np.bincount(jj, weights=ppl, minlength=len(pb.sid))
    else:
        assignments = pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(_ASSIGN_COLS, [str, str, "int64", float], strict=True)
            }
        )
        travel_obj = 0.0
        load = np.zeros(len(pb.sid))
    is_open = open_mask | (load > 0) | pb.locked
    opening = float(pb.fcost[is_open].sum())
    unplaced = pd.DataFrame(pb.unplaced + extra_unplaced, columns=_UNPLACED_COLS)
    site_load = pd.DataFrame(
        {
            "site_id": pb.sid,
            "capacity_people": pb.cap,
            "assigned_people": load,
            "open": is_open,
            "min_occupancy": pb.minocc.astype(np.int64),
            "opening_cost": pb.fcost,
        }
    )
    return AllocationResult(
        assignments=assignments,
        unplaced=unplaced,
        site_load=site_load,
        status=status,
        mip_gap=gap,
        objective=travel_obj + opening,
        solve_s=time.perf_counter() - t0,
        method=method,
        notes=notes,
        opening_cost=opening,
        lower_bound=lower_bound,
    )


#: Above this many village-site pairs HiGHS's presolve costs more than it saves.
_PRESOLVE_MAX_PAIRS = 50_000

_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
}


@dataclass
class _Solved:
    """What one :func:`_solve_highs` call found."""

    status: str
    gap: float
    v: np.ndarray  # pair values (one per allowed village-site pair)
    y: np.ndarray  # site open values (empty without y)
    u: np.ndarray  # left-out values (empty without dummies)
    has: bool  # a feasible solution was found
    bound: float  # HiGHS's dual bound (LP objective for a relaxation); NaN if none
    objective: float  # HiGHS's objective of the solution; NaN if none
    solve_s: float


def _solve_highs(
    pb: _Problem,
    opts: _HighsOptions,
    *,
    dummy: bool,
    unplaced_cap: float | None,
    phase_one: bool,
    relax: bool = False,
) -> _Solved:
    """Build and solve one MIP (or its LP relaxation).

    Variables: one per allowed (village, site) pair; one y per site when the model needs
    it (p, opening costs or minimum occupancies); one dummy u per active village when
    ``dummy``. Whole villages: binary x; split: integer people counts.
    """
    t0 = time.perf_counter()
    ii, jj = np.nonzero(pb.allowed)
    k = len(ii)
    act = np.flatnonzero(pb.active)
    n_act = len(act)
    row_of = -np.ones(len(pb.vid), dtype=np.int64)
    row_of[act] = np.arange(n_act)
    m = len(pb.sid)
    use_y = pb.use_y
    ppl = pb.people.astype(float)
    # Unify both modes: variable v has upper bound ub, assignment coefficient 1,
    # capacity coefficient q, cost f.
    if pb.split:
        ub = ppl[ii]
        q = np.ones(k)
        f = pb.cost[ii, jj]
        rhs_assign = ppl[act]
        u_ub = ppl[act]
        u_weight = np.ones(n_act)
    else:
        ub = np.ones(k)
        q = ppl[ii]
        f = ppl[ii] * pb.cost[ii, jj]
        rhs_assign = np.ones(n_act)
        u_ub = np.ones(n_act)
        u_weight = ppl[act]
    if phase_one:
        f = np.zeros(k)
    n_y = m if use_y else 0
    n_u = n_act if dummy else 0
    ncol = k + n_y + n_u
    y_cost = np.zeros(n_y) if phase_one or not use_y else pb.fcost.astype(float)
    col_cost = np.concatenate([f, y_cost, u_weight if phase_one else np.zeros(n_u)])
    col_lower = np.zeros(ncol)
    y_upper = pb.can_open.astype(float) if use_y else np.zeros(0)
    col_upper = np.concatenate([ub, y_upper, u_ub if dummy else np.zeros(0)])
    if use_y:
        col_lower[k : k + m][pb.locked] = 1.0
    rows_r, rows_c, rows_v, lo, hi = [], [], [], [], []
    r0 = 0
    # assignment: sum_j v_ij (+ u_i) = rhs_i
    rows_r.append(row_of[ii])
    rows_c.append(np.arange(k))
    rows_v.append(np.ones(k))
    if dummy:
        rows_r.append(np.arange(n_act))
        rows_c.append(k + n_y + np.arange(n_act))
        rows_v.append(np.ones(n_act))
    lo.append(rhs_assign)
    hi.append(rhs_assign)
    r0 += n_act
    # capacity: sum_i q v_ij - cap_j y_j <= 0   (or <= cap_j without y)
    rows_r.append(r0 + jj)
    rows_c.append(np.arange(k))
    rows_v.append(q)
    if use_y:
        rows_r.append(r0 + np.arange(m))
        rows_c.append(k + np.arange(m))
        rows_v.append(-pb.cap.astype(float))
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
    else:
        lo.append(np.full(m, -np.inf))
        hi.append(pb.cap.astype(float))
    r0 += m
    if use_y:
        mo_sites = np.flatnonzero(pb.minocc > 0)
        if len(mo_sites):
            # minimum occupancy: sum_i q v_ij - m_j y_j >= 0
            pos = -np.ones(m, dtype=np.int64)
            pos[mo_sites] = np.arange(len(mo_sites))
            sel = pos[jj] >= 0
            rows_r += [r0 + pos[jj[sel]], r0 + np.arange(len(mo_sites))]
            rows_c += [np.flatnonzero(sel), k + mo_sites]
            rows_v += [q[sel], -pb.minocc[mo_sites].astype(float)]
            lo.append(np.zeros(len(mo_sites)))
            hi.append(np.full(len(mo_sites), np.inf))
            r0 += len(mo_sites)
        # strong linking v_ij <= ub_ij y_j: the tight LP bound of facility location
        rows_r += [r0 + np.arange(k), r0 + np.arange(k)]
        rows_c += [np.arange(k), k + jj]
        rows_v += [np.ones(k), -ub]
        lo.append(np.full(k, -np.inf))
        hi.append(np.zeros(k))
        r0 += k
        if pb.p is not None:
            rows_r.append(np.full(m, r0))
            rows_c.append(k + np.arange(m))
            rows_v.append(np.ones(m))
            lo.append(np.array([-np.inf if opts.p_at_most else float(pb.p)]))
            hi.append(np.array([float(pb.p)]))
            r0 += 1
        if not phase_one and (unplaced_cap is not None or not dummy):
            # valid cut: the open sites must hold everyone placed (sum_j cap_j y_j >= placed)
            must = (rhs_assign if pb.split else ppl[act]).sum() - (unplaced_cap or 0.0)
            rows_r.append(np.full(m, r0))
            rows_c.append(k + np.arange(m))
            rows_v.append(pb.cap.astype(float))
            lo.append(np.array([must - 1e-6]))
            hi.append(np.array([np.inf]))
            r0 += 1
    if unplaced_cap is not None and dummy:
        rows_r.append(np.full(n_act, r0))
        rows_c.append(k + n_y + np.arange(n_act))
        rows_v.append(u_weight)
        lo.append(np.array([-np.inf]))
        hi.append(np.array([unplaced_cap + 1e-6]))
        r0 += 1
    a = sp.csc_matrix(
        (np.concatenate(rows_v), (np.concatenate(rows_r), np.concatenate(rows_c))), shape=(r0, ncol)
    )
    a.sort_indices()
    h = _quiet_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(opts.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    h.setOptionValue("random_seed", 0)
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = r0
    lp.col_cost_ = col_cost
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isinf(np.concatenate(lo)), -inf, np.concatenate(lo))
    lp.row_upper_ = np.where(np.isinf(np.concatenate(hi)), inf, np.concatenate(hi))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = r0
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * ncol
    presolve = opts.presolve
    if presolve == "auto":
        presolve = "on" if k <= _PRESOLVE_MAX_PAIRS else "off"
    h.setOptionValue("presolve", presolve)
    h.passModel(lp)
    start = opts.start
    if start is not None and not relax:
        x0 = _start_vector(pb, start, ii, jj, act, use_y=use_y, dummy=dummy)
        left_w = float(x0[k + n_y :] @ u_weight) if dummy else 0.0
        n_open = int(start[1].sum())
        feasible = (
            (dummy or not start[2])
            and (unplaced_cap is None or left_w <= unplaced_cap + 1e-6)
            and (pb.p is None or n_open == pb.p or (opts.p_at_most and n_open <= pb.p))
        )
        if feasible:
            sol = highspy.HighsSolution()
            sol.col_value = x0
            sol.value_valid = True
            h.setSolution(sol)
    with _highs_threads(opts.threads) as threads:
        h.setOptionValue("threads", threads)
        h.run()
    ms = h.getModelStatus()
    status = _STATUS.get(ms, h.modelStatusToString(ms).lower().replace(" ", "_"))
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    gap = float(info.mip_gap) if has_sol and not relax else math.inf
    if status == "optimal":
        gap = max(0.0, gap) if np.isfinite(gap) else 0.0
    obj = float(info.objective_function_value) if has_sol else math.nan
    if relax:
        bound = obj if status == "optimal" else math.nan
    else:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else math.nan
        if status == "optimal" and gap > 1e-9 and not (abs(obj - bound) <= 1e-6):
            # HiGHS stopped at the requested relative gap: good, but not proven optimal
            status = "gap_limit"
    x = np.asarray(h.getSolution().col_value) if has_sol else np.zeros(ncol)
    return _Solved(
        status,
        gap,
        x[:k],
        x[k : k + n_y],
        x[k + n_y :],
        has_sol,
        bound,
        obj,
        time.perf_counter() - t0,
    )


def _rows_from(pb: _Problem, v: np.ndarray) -> list[tuple[int, int, float]]:
    """(village row, site column, people) for each pair the solver switched on."""
    ii, jj = np.nonzero(pb.allowed)
    mult = np.ones(len(ii)) if pb.split else pb.people[ii].astype(float)
    val = np.round(v)
    return [(int(ii[k]), int(jj[k]), float(val[k] * mult[k])) for k in np.flatnonzero(val > 0.5)]


def _rows_cost(pb: _Problem, rows: list[tuple[int, int, float]]) -> float:
    return float(sum(ppl * pb.cost[i, j] for i, j, ppl in rows))


def _start_cost(pb: _Problem, start: _Start) -> float:
    """Objective of a start: travel of its rows plus the opening cost of its open sites."""
    rows, open_mask = start[0], start[1]
    used = np.zeros(len(pb.sid), bool)
    for _, j, _ in rows:
        used[j] = True
    return _rows_cost(pb, rows) + float(pb.fcost[open_mask | used | pb.locked].sum())


def _lp_rounding_start(
    pb: _Problem, greedy: _Start, *, time_limit_s: float, opts: _HighsOptions
) -> _Start | None:
    """A better first incumbent for the p-median: LP relaxation -> open the p sites with the
    largest y (locked first) -> solve the assignment to those sites as a smaller MIP.
    Returns a start tuple if it beats ``greedy``, else None. Only for models without opening
    costs or minimum occupancies (the rounding ignores both)."""
    t0 = time.perf_counter()
    o = replace(opts, start=None, time_limit_s=time_limit_s)
    lp = _solve_highs(pb, o, dummy=False, unplaced_cap=None, phase_one=False, relax=True)
    if not lp.has or lp.status != "optimal" or pb.p is None:
        return None
    score = np.where(pb.locked, np.inf, lp.y)
    open_mask = np.zeros(len(pb.sid), bool)
    open_mask[np.argsort(-score, kind="stable")[: pb.p]] = True
    sub = replace(pb, allowed=pb.allowed & open_mask[None, :], p=None)
    o = replace(o, time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.1))
    # The assignment LP has a basic optimum with at most (#sites) fractional villages:
    # keep the integral ones, place the rest greedily in the room left.
    s2 = _solve_highs(sub, o, dummy=False, unplaced_cap=None, phase_one=False, relax=True)
    rows: list[tuple[int, int, float]] = []
    if s2.has and s2.status == "optimal":
        ii, jj = np.nonzero(sub.allowed)
        whole = s2.v > 1 - 1e-6 if not pb.split else np.zeros(len(s2.v), bool)
        rows = [(int(ii[k]), int(jj[k]), float(pb.people[ii[k]])) for k in np.flatnonzero(whole)]
        rest = np.ones(len(pb.vid), bool)
        rest[[r[0] for r in rows]] = False
        room = np.where(open_mask, pb.cap, 0).astype(float)
        for _, j, ppl in rows:
            room[j] -= ppl
        c = np.where(sub.allowed, pb.cost, np.inf)
        todo = np.flatnonzero(rest & pb.active)
        for i in todo[np.argsort(-pb.people[todo], kind="stable")]:
            for j in np.argsort(c[i], kind="stable"):
                if np.isfinite(c[i, j]) and room[j] >= pb.people[i]:
                    rows.append((int(i), int(j), float(pb.people[i])))
                    room[j] -= pb.people[i]
                    break
    if pb.split or not rows or len(rows) < pb.active.sum():
        o = replace(
            o,
            time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.1),
            mip_gap=max(opts.mip_gap, 2e-3),  # a start, not the answer
        )
        s3 = _solve_highs(sub, o, dummy=False, unplaced_cap=None, phase_one=False)
        if not s3.has:
            return None
        rows = _rows_from(sub, s3.v)
    placed = np.zeros(len(pb.vid))
    for i, _, ppl in rows:
        placed[i] += ppl
    if np.any(placed[pb.active] < pb.people[pb.active] - 0.5):
        return None
    cand: _Start = (rows, open_mask, [], {})
    if greedy[2] or _start_cost(pb, cand) < _start_cost(pb, greedy):
        return cand
    return None


def _start_vector(
    pb: _Problem,
    start: _Start,
    ii: np.ndarray,
    jj: np.ndarray,
    act: np.ndarray,
    *,
    use_y: bool,
    dummy: bool,
) -> np.ndarray:
    """Column values of a heuristic solution, to give HiGHS an incumbent from the start."""
    rows, open_mask, left, left_people = start
    kidx = -np.ones(pb.allowed.shape, dtype=np.int64)
    kidx[ii, jj] = np.arange(len(ii))
    xv = np.zeros(len(ii))
    for i, j, ppl in rows:
        xv[kidx[i, j]] = ppl if pb.split else 1.0
    parts = [xv]
    if use_y:
        y = open_mask.copy() | pb.locked
        for _, j, _ in rows:
            y[j] = True
        parts.append(y.astype(float))
    if dummy:
        pos = {int(i): r for r, i in enumerate(act)}
        uv = np.zeros(len(act))
        for i in left:
            uv[pos[i]] = left_people[i] if pb.split else 1.0
        parts.append(uv)
    return np.concatenate(parts)


def _empty_result(pb: _Problem, *, t0: float, method: str) -> AllocationResult:
    """The answer when no village enters the model: the locked sites open, nobody placed,
    the status saying why (:func:`_empty_status`), never "optimal"."""
    return _result(
        pb,
        [],
        pb.locked.copy(),
        [],
        status=_empty_status(pb),
        gap=0.0,
        t0=t0,
        method=method,
        notes=[],
        lower_bound=float(pb.fcost[pb.locked].sum()),
    )


def _empty_status(pb: _Problem) -> str:
    """Status when no village enters the model: say what happened, never "optimal"."""
    if int(pb.people.sum()) == 0:
        return "nothing_to_place"
    if len(pb.sid) == 0:
        return "no_sites"
    return "none_placeable"


def allocate(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None = None,
    max_return_min: float | None = None,
    township_penalty_min: float = 0.0,
    split: bool = False,
    opening_cost: float | Sequence[float] | np.ndarray = 0.0,
    min_occupancy: float | Sequence[float] | np.ndarray = 0.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    threads: int | None = None,
    presolve: str = "auto",
    warm_start: bool = True,
    heuristic_frac: float = 0.3,
    on_start: Callable[[list[str]], None] | None = None,
) -> AllocationResult:
    """Exact capacitated facility location of people at sites, solved with HiGHS.

    The model (whole villages; ``x_ij`` = village i goes to site j, ``y_j`` = site j opens)::

        min  sum_ij people_i * cost_ij * x_ij  +  sum_j opening_cost_j * y_j
        s.t. sum_j x_ij = 1                              every village placed once
             sum_i people_i x_ij <= cap_j y_j            capacity
             sum_i people_i x_ij >= min_occupancy_j y_j  an open site is not near-empty
             x_ij <= y_j                                 (the tight linking of facility location)
             sum_j y_j = p                               when p is given
             y_j = 1 for locked sites;  x_ij = 0 where cost is NaN or above max_return_min

    with ``cost_ij`` the travel minutes plus ``township_penalty_min`` when the site lies in
    another township. ``y`` only enters when p, an opening cost or a minimum occupancy is
    given; otherwise this is the plain capacitated assignment. With ``split=True`` a village
    may be divided between sites in whole people (``x_ij`` counts people).

    Infeasibility never raises. Villages with no reachable site, none within the limit, only
    sites too small to reach the minimum occupancy, or bigger than every reachable site are
    excluded before solving and reported. If the rest still does not fit (total capacity
    short, whole villages do not pack, or minimum occupancies cannot be met), a first MIP
    minimises the people left out, a second minimises the objective among allocations that
    leave out no more; everyone left out is listed with the reason. When p sites cannot all
    reach their minimum occupancy, at most p open (a note says so).

    Parameters
    ----------
    demand : pandas.DataFrame
        ``village_id``, ``people`` (whole numbers), optional ``township``. One row per unit
        that moves together: a village, or a hamlet (自然村) to keep hamlets whole.
    sites : pandas.DataFrame
        ``site_id``, ``capacity_people``, optional ``township``, ``locked``.
    cost_min : numpy.ndarray, shape (villages, sites)
        Travel minutes village -> site; NaN = unreachable.
    p : int, optional
        Number of sites to open (locked ones included). None: the model decides.
    max_return_min : float, optional
        Longest acceptable trip back to the village's farmland.
    township_penalty_min : float
        Minutes added per person placed outside their township (a preference, not a rule).
        Missing townships are never penalised.
    split : bool
        Allow a village to be split across sites (in whole people). Default False: a
        village moves together, as planners do.
    opening_cost : float or array of length sites
        Cost of opening each site, in the objective's unit (person-minutes): a site opens
        only if it saves at least this much travel. 0 for planner sites.
    min_occupancy : float or array of length sites
        Fewest people an open site may receive (a centralized site is not built for a
        handful of families). Not applied to locked sites, which are open whatever they
        receive; a site whose capacity is below its minimum never opens.
    time_limit_s, mip_gap : float
        HiGHS time limit and relative gap target (per MIP solve).
    threads : int, optional
        HiGHS threads option.
    presolve : {"auto", "off", "choose", "on"}
        HiGHS presolve. "auto": on for models up to 50,000 village-site pairs (on the demo it
        halves the time to prove optimality: its probing and clique tables help the
        branching), off above (HiGHS 1.16's presolve took about a minute on 1,500
        villages x 40 sites before the search began).
    warm_start : bool
        Give HiGHS the local-search solution (:func:`allocate_heuristic`, within
        ``heuristic_frac`` of the time limit) as its first incumbent, so a time-limited
        answer is never worse than the heuristic.
    heuristic_frac : float
        Share of ``time_limit_s`` the warm start may take. With ``p`` on larger instances
        (> 5,000 village-site pairs, no opening cost or minimum occupancy) an LP-rounding
        start is tried as well.
    on_start : callable, optional
        Called once with the ids of the sites the warm start opens, before HiGHS runs
        (the robustness draws start their work from it while HiGHS proves the optimum).

    Returns
    -------
    AllocationResult
        ``status``: ``optimal`` only if HiGHS proved it (gap 0); ``gap_limit`` when HiGHS
        stopped at ``mip_gap``; ``time_limit`` with the incumbent and its gap;
        ``nothing_to_place``, ``no_sites`` or ``none_placeable`` when no model was solved.

    Raises
    ------
    LayerSchemaError
        Missing columns, duplicate ids, a cost matrix of the wrong shape or negative costs,
        per-site values of the wrong length.
    PolicyError
        ``p`` out of range or smaller than the number of locked sites; negative penalty,
        limit, opening cost or minimum occupancy.
    """
    t0 = time.perf_counter()
    pb = _prepare(
        demand,
        sites,
        cost_min,
        p=p,
        max_return_min=max_return_min,
        township_penalty_min=township_penalty_min,
        split=split,
        opening_cost=opening_cost,
        min_occupancy=min_occupancy,
    )
    notes: list[str] = []
    act = np.flatnonzero(pb.active)
    if len(act) == 0:
        return _empty_result(pb, t0=t0, method="highs")
    demand_total = int(pb.people[act].sum())
    usable = _usable_capacity(pb)
    start: _Start | None = None
    if warm_start:
        sr = _search(pb, time_limit_s=heuristic_frac * time_limit_s, rounds=40)
        start = sr.start
        notes.append(f"start: local search {_start_cost(pb, start):.6g}")
        if on_start is not None:
            on_start([str(x) for x in pb.sid[np.asarray(start[1], dtype=bool)]])
    opts = _HighsOptions(
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        threads=threads,
        presolve=presolve,
        start=start,
    )
    if (
        start is not None
        and pb.p is not None
        and not pb.fcost.any()
        and not pb.minocc.any()
        and demand_total <= usable
        and pb.allowed.sum() > 5000
    ):
        budget = heuristic_frac * time_limit_s
        better = _lp_rounding_start(pb, start, time_limit_s=budget, opts=opts)
        if better is not None:
            notes.append(
                f"start: LP rounding {_start_cost(pb, better):.6g} "
                f"(local search {_start_cost(pb, start):.6g})"
            )
            opts = replace(opts, start=better)
    opts = replace(opts, time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 1e-3))
    empty = np.zeros(0)
    sol = _Solved("infeasible", math.inf, empty, empty, empty, False, math.nan, math.nan, 0.0)
    if demand_total <= usable:
        sol = _solve_highs(pb, opts, dummy=False, unplaced_cap=None, phase_one=False)
    if sol.status == "infeasible" or demand_total > usable:
        # phase 1: fewest people left out (a dummy per village); phase 2: the objective
        s1 = _solve_highs(pb, opts, dummy=True, unplaced_cap=None, phase_one=True)
        if s1.status == "infeasible" and pb.p is not None:
            # not even leaving people out lets p sites reach their minimum occupancy
            opts = replace(opts, p_at_most=True)
            notes.append(
                f"the {pb.p} sites asked for cannot all reach their minimum occupancy: "
                f"at most {pb.p} open"
            )
            s1 = _solve_highs(pb, opts, dummy=True, unplaced_cap=None, phase_one=True)
        if not s1.has:
            notes.append(f"phase 1 found no solution ({s1.status})")
            sol = replace(s1, gap=math.inf, has=False)
        else:
            w = pb.people[act].astype(float) if not pb.split else np.ones(len(act))
            left_out = float(np.round(s1.u @ w))
            if left_out > 0:
                notes.append(
                    f"not everyone fits (demand {demand_total}, usable capacity {usable}): "
                    f"phase 1 ({s1.status}) left out {left_out:g} people, phase 2 "
                    "minimised the objective for the rest"
                )
            sol = _solve_highs(pb, opts, dummy=True, unplaced_cap=left_out, phase_one=False)
            if s1.status != "optimal" and sol.status == "optimal":
                # the number left out is only as good as phase 1
                sol = replace(sol, status=s1.status, gap=s1.gap)
    if not sol.has:
        extra = [
            _reason(
                "solver_no_solution",
                pb.vid[i],
                int(pb.people[i]),
                f"the solver stopped ({sol.status}) before finding any allocation",
                f"求解器在找到可行方案前停止（{sol.status}）",
            )
            for i in act
        ]
        return _result(
            pb,
            [],
            pb.locked.copy(),
            extra,
            status=sol.status,
            gap=sol.gap,
            t0=t0,
            method="highs",
            notes=notes,
        )
    rows = _rows_from(pb, sol.v)
    placed = np.zeros(len(pb.vid))
    for i, _, ppl in rows:
        placed[i] += ppl
    left = [int(i) for i in act if placed[i] < pb.people[i] - 0.5]
    open_mask = (np.round(sol.y) > 0.5) if len(sol.y) else np.zeros(len(pb.sid), bool)
    extra = _shortfall_reasons(pb, left, demand_total, usable, open_mask)
    if pb.split:
        for rec, i in zip(extra, left, strict=True):
            rec["people"] = int(pb.people[i] - placed[i])
    return _result(
        pb,
        rows,
        open_mask,
        extra,
        status=sol.status,
        gap=sol.gap,
        t0=t0,
        method="highs",
        notes=notes,
        lower_bound=sol.bound,
    )


# --------------------------------------------------------------------------- local search
#
# The heuristic works on "units" (villages; with split=True, pieces of villages) and on
# the sites plus one extra column, "left out", with unlimited room and a cost per person
# (``big``) above any objective a placement can have: leaving fewer people out always wins,
# as in the exact model's two phases. A state is each unit's column, the load of every
# column and the open mask. Moves keep every capacity; minimum occupancies are restored by
# :func:`_repair` (close the site or pull villages into it), and with p sites required a
# site that cannot be filled costs ``big`` per missing person. The search may walk through
# such states, but the answer it keeps is the best of those with the least shortfall
# (:func:`_shortfall`): a site below its minimum occupancy is never kept over people left
# out.

_TOL = 1e-6


@dataclass
class _Search:
    unit_vil: np.ndarray  # (n,) village row of each unit
    q: np.ndarray  # (n,) people of each unit
    W: np.ndarray  # (n, m + 1) people x cost, inf where not allowed; column m = left out
    cap: np.ndarray  # (m + 1,)
    f: np.ndarray  # (m + 1,) opening cost
    mo: np.ndarray  # (m + 1,) minimum occupancy
    fixed: np.ndarray  # (m + 1,) open whatever happens (locked sites, the left-out column)
    can_open: np.ndarray  # (m + 1,)
    p: int | None
    p_exact: bool  # exactly p sites open (else at most p, or any number without p)
    big: float
    near: np.ndarray  # (m, m) sites by similarity of their cost columns
    deadline: float = math.inf  # the search's wall-clock limit (perf_counter)

    def late(self) -> bool:
        return time.perf_counter() > self.deadline

    @property
    def m(self) -> int:
        return len(self.cap) - 1


@dataclass
class _State:
    a: np.ndarray  # (n,) column of each unit
    load: np.ndarray  # (m + 1,)
    open: np.ndarray  # (m + 1,) bool

    def copy(self) -> _State:
        return _State(self.a.copy(), self.load.copy(), self.open.copy())


def _units(pb: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """Villages, or with ``split`` pieces of about a quarter of the median village."""
    act = np.flatnonzero(pb.active)
    if not pb.split:
        return act, pb.people[act].astype(float)
    unit = max(1, round(float(np.median(pb.people[act])) / 4))
    vil: list[int] = []
    q: list[int] = []
    for i in act:
        k = -(-int(pb.people[i]) // unit)
        base, extra = divmod(int(pb.people[i]), k)
        vil += [int(i)] * k
        q += [base + 1] * extra + [base] * (k - extra)
    return np.array(vil, dtype=np.int64), np.array(q, dtype=float)


def _make_search(pb: _Problem, *, p_exact: bool) -> _Search:
    vil, q = _units(pb)
    m = len(pb.sid)
    per = np.where(pb.allowed[vil], pb.cost[vil], np.inf)
    fin = per[np.isfinite(per)]
    top = float(fin.max()) if fin.size else 1.0
    big = float(q.sum() * (top + 1.0) + pb.fcost.sum() + 1.0)
    W = np.empty((len(vil), m + 1))
    W[:, :m] = q[:, None] * per
    W[:, m] = big * q
    # sites alike in their travel to the villages are neighbours for swap moves
    filled = np.where(np.isfinite(per), per, 2.0 * top + 1.0)
    if m:
        d = np.zeros((m, m))
        step = max(1, 2_000_000 // (m * m))
        for lo in range(0, len(vil), step):
            f = filled[lo : lo + step]
            d += np.abs(f[:, :, None] - f[:, None, :]).sum(axis=0)
        near = np.argsort(d, axis=1, kind="stable")
    else:
        near = np.zeros((0, 0), dtype=np.int64)
    return _Search(
        unit_vil=vil,
        q=q,
        W=W,
        cap=np.append(pb.cap.astype(float), np.inf),
        f=np.append(pb.fcost, 0.0),
        mo=np.append(pb.minocc, 0.0),
        fixed=np.append(pb.locked, True),
        can_open=np.append(pb.can_open, True),
        p=pb.p,
        p_exact=p_exact and pb.p is not None,
        big=big,
        near=near,
    )


def _cost(s: _Search, st: _State) -> float:
    """Objective of a state, with ``big`` per person left out or missing from a required site."""
    return float(
        s.W[np.arange(len(s.q)), st.a].sum() + s.f[st.open].sum() + s.big * _shortfall(s, st)
    )


def _shortfall(s: _Search, st: _State) -> float:
    """People missing from the minimum occupancies of the open sites (locked ones aside)."""
    return float(np.where(st.open & ~s.fixed, np.clip(s.mo - st.load, 0.0, None), 0.0).sum())


def _closable(s: _Search, st: _State) -> np.ndarray:
    if s.p_exact:
        return np.zeros(len(s.cap), bool)
    return st.open & ~s.fixed


def _move(s: _Search, st: _State, i: int, k: int) -> None:
    j = int(st.a[i])
    st.load[j] -= s.q[i]
    st.load[k] += s.q[i]
    st.a[i] = k
    if not s.p_exact and not s.fixed[j] and st.load[j] <= _TOL:
        st.open[j] = False
        st.load[j] = 0.0


def _leave_ok(s: _Search, st: _State, i: int) -> tuple[bool, bool]:
    """(may unit i leave its site, does its site then close)."""
    j = int(st.a[i])
    after = st.load[j] - s.q[i]
    closes = after <= _TOL and not s.p_exact and not s.fixed[j]
    return bool(after >= s.mo[j] - _TOL or closes), bool(closes)


def _place(s: _Search, st: _State, units: np.ndarray, banned: int | None = None) -> None:
    """Each unit (in order) to its cheapest open column with room."""
    for i in units:
        room = np.where(st.open, s.cap - st.load, -np.inf)
        c = np.where(room >= s.q[i] - _TOL, s.W[i], np.inf)
        c[st.a[i]] = np.inf
        if banned is not None:
            c[banned] = np.inf
        _move(s, st, int(i), int(np.argmin(c)))


def _assign_all(s: _Search, open_mask: np.ndarray) -> _State:
    """Greedy assignment to the open sites, villages with the most to lose first (regret)."""
    n, m = len(s.q), s.m
    st = _State(np.full(n, m), np.zeros(m + 1), np.append(open_mask, True))
    st.load[m] = s.q.sum()
    wo = np.where(st.open[None, :m], s.W[:, :m], np.inf)
    if m >= 2:
        two = np.partition(wo, 1, axis=1)[:, :2]
        with np.errstate(invalid="ignore"):  # inf - inf where nothing fits
            regret = np.where(np.isfinite(two[:, 1]), two[:, 1] - two[:, 0], s.big)
    else:
        regret = np.full(n, s.big)
    order = np.lexsort((-s.q, -regret))
    for i in order:
        room = np.where(st.open[:m], s.cap[:m] - st.load[:m], -np.inf)
        c = np.where(room >= s.q[i] - _TOL, wo[i], np.inf)
        k = int(np.argmin(c)) if m else 0
        if m and np.isfinite(c[k]):
            _move(s, st, int(i), k)
    if not s.p_exact:
        st.open[:m] &= (st.load[:m] > _TOL) | s.fixed[:m]
    return st


def _shift(s: _Search, st: _State) -> int:
    """Move single units to a better open site while that helps; returns the moves made."""
    n = len(s.q)
    rng = np.arange(n)
    done = 0
    while True:
        cur = s.W[rng, st.a]
        room = np.where(st.open, s.cap - st.load, -np.inf)
        after = st.load[st.a] - s.q
        closes = (after <= _TOL) & _closable(s, st)[st.a]
        ok = (after >= s.mo[st.a] - _TOL) | closes
        d = s.W - (cur + np.where(closes, s.f[st.a], 0.0))[:, None]
        d[room[None, :] < s.q[:, None] - _TOL] = np.inf
        d[rng, st.a] = np.inf
        d[~ok] = np.inf
        kbest = np.argmin(d, axis=1)
        gain = d[rng, kbest]
        cand = np.flatnonzero(gain < -_TOL)
        if not len(cand):
            return done
        moved = 0
        for i in cand[np.argsort(gain[cand], kind="stable")]:
            k = int(kbest[i])
            j = int(st.a[i])
            if not st.open[k] or st.load[k] + s.q[i] > s.cap[k] + _TOL:
                continue
            leave, close = _leave_ok(s, st, int(i))
            delta = s.W[i, k] - s.W[i, j] - (s.f[j] if close else 0.0)
            if leave and delta < -_TOL:
                _move(s, st, int(i), k)
                moved += 1
        if not moved:
            return done
        done += moved
        if s.late():  # one pass at least, then only while there is time
            return done


#: Up to this many units every pair is tried by swaps and ejection chains; above it only
#: the units of each unit's few cheapest other sites (the whole square grows too fast).
_ALL_PAIRS = 600


def _partners(s: _Search, st: _State, n_sites: int = 4) -> np.ndarray:
    """For each unit the units it may swap with: every unit (small problems), or those at
    its ``n_sites`` cheapest other sites and the left-out ones; -1 pads the rows."""
    n, m = len(s.q), s.m
    rng = np.arange(n)
    if n <= _ALL_PAIRS:
        return np.broadcast_to(rng, (n, n))
    w = s.W[:, :m].copy()
    own = st.a < m
    w[rng[own], st.a[own]] = np.inf
    ns = min(n_sites, m)
    alt = np.argpartition(w, ns - 1, axis=1)[:, :ns] if ns < m else np.tile(np.arange(m), (n, 1))
    if (st.a == m).any():
        alt = np.column_stack([alt, np.full(n, m)])
    order = np.argsort(st.a, kind="stable")
    counts = np.bincount(st.a, minlength=m + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table = -np.ones((m + 1, max(int(counts.max()), 1)), dtype=np.int64)
    table[st.a[order], np.arange(n) - starts[st.a[order]]] = order
    return table[alt].reshape(n, -1)


def _swap(s: _Search, st: _State, block_cells: int = 2_000_000) -> int:
    """Exchange two units between their sites while that helps; returns the swaps made."""
    n = len(s.q)
    if n < 2:
        return 0
    rng = np.arange(n)
    done = 0
    while not s.late():
        cur = s.W[rng, st.a]
        a = st.a
        partners = _partners(s, st)
        best_d = np.full(n, np.inf)
        best_p = np.zeros(n, dtype=np.int64)
        b = max(1, block_cells // max(partners.shape[1], 1))
        for lo in range(0, n, b):
            rows = rng[lo : lo + b]
            pm = partners[rows]
            valid = pm >= 0
            pm = np.where(valid, pm, 0)
            j = a[rows][:, None]
            k = a[pm]
            diff = s.q[rows][:, None] - s.q[pm]  # k gains diff, j loses diff
            d = s.W[rows[:, None], k] + s.W[pm, j] - cur[rows][:, None] - cur[pm]
            lj = st.load[j] - diff
            lk = st.load[k] + diff
            bad = ~valid | (j == k) | (lk > s.cap[k] + _TOL) | (lj > s.cap[j] + _TOL)
            bad |= (lj < s.mo[j] - _TOL) & (diff > 0)
            bad |= (lk < s.mo[k] - _TOL) & (diff < 0)
            d[bad] = np.inf
            pos = np.argmin(d, axis=1)
            best_p[rows] = pm[np.arange(len(rows)), pos]
            best_d[rows] = d[np.arange(len(rows)), pos]
        cand = np.flatnonzero(best_d < -_TOL)
        if not len(cand):
            return done
        moved = 0
        touched = np.zeros(len(s.cap), bool)
        for i in cand[np.argsort(best_d[cand], kind="stable")]:
            i2 = int(best_p[i])
            jj, kk = int(st.a[i]), int(st.a[i2])
            if touched[jj] or touched[kk] or jj == kk:
                continue
            diff = s.q[i] - s.q[i2]
            lj, lk = st.load[jj] - diff, st.load[kk] + diff
            if lk > s.cap[kk] + _TOL or lj > s.cap[jj] + _TOL:
                continue
            if (diff > 0 and lj < s.mo[jj] - _TOL) or (diff < 0 and lk < s.mo[kk] - _TOL):
                continue
            delta = s.W[i, kk] + s.W[i2, jj] - s.W[i, jj] - s.W[i2, kk]
            if delta >= -_TOL:
                continue
            st.a[i], st.a[i2] = kk, jj
            st.load[jj], st.load[kk] = lj, lk
            touched[jj] = touched[kk] = True
            moved += 1
        if not moved:
            return done
        done += moved
    return done


def _pull(s: _Search, st: _State, k: int) -> int:
    """Bring into open site k the units that gain by it, then (if k is below its minimum
    occupancy) those that lose least per person, until the minimum is reached."""
    n = len(s.q)
    cur = s.W[np.arange(n), st.a]
    after = st.load[st.a] - s.q
    closes = (after <= _TOL) & _closable(s, st)[st.a]
    sv = cur + np.where(closes, s.f[st.a], 0.0) - s.W[:, k]
    cand = np.flatnonzero(np.isfinite(s.W[:, k]) & (st.a != k) & (s.q <= s.cap[k] + _TOL))
    moved = 0
    for i in cand[np.argsort(-sv[cand] / s.q[cand], kind="stable")]:
        if sv[i] <= _TOL and st.load[k] >= s.mo[k] - _TOL:
            break
        if st.load[k] + s.q[i] > s.cap[k] + _TOL:
            continue
        leave, _ = _leave_ok(s, st, int(i))
        if leave:
            _move(s, st, int(i), k)
            moved += 1
    return moved


def _repair(s: _Search, st: _State) -> int:
    """Sites below their minimum occupancy: close them or fill them, whichever costs less."""
    changes = 0
    failed: set[int] = set()
    while True:
        short = st.open & ~s.fixed & (st.load < s.mo - _TOL)
        if not s.p_exact:
            short &= st.load > _TOL
        bad = [int(j) for j in np.flatnonzero(short) if int(j) not in failed]
        if not bad:
            return changes
        j = min(bad, key=lambda x: (st.load[x], x))
        options = []
        if not s.p_exact:
            closed = st.copy()
            closed.open[j] = False
            units = np.flatnonzero(closed.a == j)
            _place(s, closed, units[np.argsort(-s.q[units], kind="stable")], banned=j)
            closed.load[j] = 0.0
            options.append(closed)
        filled = st.copy()
        _pull(s, filled, j)
        if filled.load[j] >= s.mo[j] - _TOL:
            options.append(filled)
        elif s.p_exact:
            options.append(filled)  # as close to the minimum as it gets
            failed.add(j)
        best = min(options, key=lambda x: _cost(s, x))
        st.a, st.load, st.open = best.a, best.load, best.open
        changes += 1


def _eject(s: _Search, st: _State, block_cells: int = 2_000_000) -> int:
    """Ejection chains of length two: unit i moves to site k, making room there by moving
    one of k's units to its best other site with room. Returns the chains made."""
    n = len(s.q)
    if n < 2:
        return 0
    rng = np.arange(n)
    done = 0
    while not s.late():
        a = st.a
        cur = s.W[rng, a]
        room = np.where(st.open, s.cap - st.load, -np.inf)
        alt = np.where(room[None, :] >= s.q[:, None] - _TOL, s.W, np.inf)
        alt[rng, a] = np.inf
        l1 = np.argmin(alt, axis=1)
        c1 = alt[rng, l1]
        after = st.load[a] - s.q
        closes = (after <= _TOL) & _closable(s, st)[a]
        ok = (after >= s.mo[a] - _TOL) | closes
        bonus = np.where(closes, s.f[a], 0.0)
        partners = _partners(s, st)
        best_d = np.full(n, np.inf)
        best_p = np.zeros(n, dtype=np.int64)
        b = max(1, block_cells // max(partners.shape[1], 1))
        for lo in range(0, n, b):
            rows = rng[lo : lo + b]
            pm = partners[rows]
            valid = pm >= 0
            pm = np.where(valid, pm, 0)
            j = a[rows][:, None]
            k = a[pm]
            newk = st.load[k] - s.q[pm] + s.q[rows][:, None]
            d = s.W[rows[:, None], k] - (cur[rows] + bonus[rows])[:, None] + (c1 - cur)[pm]
            bad = ~valid | (j == k) | (newk > s.cap[k] + _TOL) | (newk < s.mo[k] - _TOL)
            bad |= ~ok[rows][:, None] | ~np.isfinite(c1)[pm]
            bad |= closes[rows][:, None] & (l1[pm] == j)
            d[bad] = np.inf
            pos = np.argmin(d, axis=1)
            best_p[rows] = pm[np.arange(len(rows)), pos]
            best_d[rows] = d[np.arange(len(rows)), pos]
        cand = np.flatnonzero(best_d < -_TOL)
        if not len(cand):
            return done
        moved = 0
        touched = np.zeros(len(s.cap), bool)
        for i in cand[np.argsort(best_d[cand], kind="stable")]:
            i2 = int(best_p[i])
            jj, kk, ll = int(st.a[i]), int(st.a[i2]), int(l1[i2])
            if touched[jj] or touched[kk] or touched[ll] or len({jj, kk, ll}) < 3 and ll != jj:
                continue
            if jj == kk or not st.open[ll] or ll == kk:
                continue
            if st.load[ll] + s.q[i2] > s.cap[ll] + _TOL:
                continue
            lk = st.load[kk] - s.q[i2] + s.q[i]
            if lk > s.cap[kk] + _TOL or lk < s.mo[kk] - _TOL:
                continue
            lj = st.load[jj] - s.q[i] + (s.q[i2] if ll == jj else 0.0)
            close = lj <= _TOL and not s.p_exact and not s.fixed[jj]
            if not (lj >= s.mo[jj] - _TOL or close):
                continue
            delta = (
                s.W[i, kk] + s.W[i2, ll] - s.W[i, jj] - s.W[i2, kk] - (s.f[jj] if close else 0.0)
            )
            if delta >= -_TOL:
                continue
            _move(s, st, i2, ll)
            _move(s, st, int(i), kk)
            touched[jj] = touched[kk] = touched[ll] = True
            moved += 1
        if not moved:
            return done
        done += moved
    return done


def _ruin_recreate(s: _Search, st: _State, rng: np.random.Generator, *, noise: float = 0.1) -> None:
    """Take the units out of a few neighbouring open sites (and every unit left out) and put
    them back, the one with the most to lose first (regret insertion), then repair and polish.
    """
    m = s.m
    opened = np.flatnonzero(st.open[:m])
    if not len(opened):
        return
    seed = int(rng.choice(opened))
    nb = [int(k) for k in s.near[seed] if st.open[k] and k != seed][: int(rng.integers(1, 4))]
    ruined = np.zeros(m + 1, bool)
    ruined[[seed, *nb]] = True
    ruined[m] = True
    out = np.flatnonzero(ruined[st.a])
    for iu in out:  # out without closing the sites: they are refilled below
        st.load[st.a[iu]] -= s.q[iu]
        st.load[m] += s.q[iu]
        st.a[iu] = m
    todo = list(out)
    while todo:
        r = np.array(todo)
        room = np.where(st.open[:m], s.cap[:m] - st.load[:m], -np.inf)
        c = np.where(room[None, :] >= s.q[r][:, None] - _TOL, s.W[r, :m], np.inf)
        if m >= 2:
            two = np.partition(c, 1, axis=1)[:, :2]
            with np.errstate(invalid="ignore"):  # inf - inf where nothing fits
                regret = np.where(np.isfinite(two[:, 1]), two[:, 1] - two[:, 0], s.big)
            best = two[:, 0]
        else:
            best = c[:, 0]
            regret = np.full(len(r), s.big)
        fin = np.isfinite(best)
        if not fin.any():
            break
        regret = np.where(fin, regret * (1.0 + noise * rng.random(len(r))), -np.inf)
        pick = int(np.argmax(regret))
        _move(s, st, int(r[pick]), int(np.argmin(c[pick])))
        todo.pop(pick)
    if not s.p_exact:
        st.open[:m] &= (st.load[:m] > _TOL) | s.fixed[:m]
    _repair(s, st)
    _polish(s, st)


@njit(cache=True, nogil=True)
def _repartition_states(w, q, cap, rest, save, cur, max_states, tol):  # pragma: no cover - numba
    """The enumeration of :func:`_repartition`: unit by unit, every kept state (site loads,
    cost) times every site, kept while no site is over capacity and the cost plus the
    cheapest rest can still beat ``cur``. Returns (finished, loads, costs, per unit the
    kept codes parent * kk + site); the states in the order NumPy's broadcast gave them."""
    n_units, kk = w.shape
    loads = np.zeros((1, kk))
    cost = np.zeros(1)
    back = []
    for u in range(n_units):
        n = len(cost)
        keep = np.empty(n * kk, dtype=np.int64)
        nk = 0
        lim = cur - tol
        for st in range(n):
            for t in range(kk):
                nc = cost[st] + w[u, t]
                if not (nc + rest[u + 1] - save < lim):
                    continue
                fits = True
                for t2 in range(kk):
                    load = loads[st, t2] + (q[u] if t2 == t else 0.0)
                    if not (load <= cap[t2] + tol):
                        fits = False
                        break
                if fits:
                    keep[nk] = st * kk + t
                    nk += 1
        keep = keep[:nk]
        if nk == 0:
            back.append(keep)
            return False, loads, cost, back
        nl = np.empty((nk, kk))
        ncost = np.empty(nk)
        for i in range(nk):
            st = keep[i] // kk
            t = keep[i] - st * kk
            for t2 in range(kk):
                nl[i, t2] = loads[st, t2] + (q[u] if t2 == t else 0.0)
            ncost[i] = cost[st] + w[u, t]
        loads, cost = nl, ncost
        back.append(keep)
        if nk > max_states:
            return False, loads, cost, back
    return True, loads, cost, back


def _repartition(
    s: _Search,
    st: _State,
    group: Sequence[int],
    *,
    max_units: int = 16,
    max_states: int = 100_000,
) -> bool:
    """Best split of the units of a few sites among those sites (enumeration with capacity
    and cost pruning); applied if it beats the current split. Returns whether it did.
    Groups holding more than ``max_units`` units are left alone (shifts and swaps serve
    many small villages better)."""
    m = s.m
    sites = np.array([j for j in group if j < m and st.open[j]], dtype=np.int64)
    if len(sites) < 2:
        return False
    held = st.a == sites[0]
    for j in sites[1:]:
        held |= st.a == j
    units = np.flatnonzero(held)
    if not len(units) or len(units) > max_units:
        return False
    units = units[np.argsort(-s.q[units], kind="stable")]
    kk = len(sites)
    w = s.W[units][:, sites]
    q = s.q[units]
    closable = ~s.fixed[sites] & (not s.p_exact)
    cur = float(s.W[units, st.a[units]].sum())
    save = float(s.f[sites][closable].sum())
    rest = np.append(np.cumsum(w.min(axis=1)[::-1])[::-1], 0.0)
    if not np.isfinite(rest[0]):
        return False
    cap = s.cap[sites].astype(float)
    # per unit: kept codes (parent state * kk + site)
    ok_dp, loads, cost, back = _repartition_states(
        np.ascontiguousarray(w, dtype=float),
        q.astype(float),
        cap,
        rest,
        save,
        cur,
        max_states,
        _TOL,
    )
    if not ok_dp:
        return False
    empty = loads <= _TOL
    ok = (
        (loads >= s.mo[sites][None, :] - _TOL) | (empty & (closable | (s.mo[sites] <= 0))[None, :])
    ).all(axis=1)
    total = cost - (empty * np.where(closable, s.f[sites], 0.0)[None, :]).sum(axis=1)
    total = np.where(ok, total, np.inf)
    b = int(np.argmin(total))
    if not np.isfinite(total[b]) or total[b] >= cur - _TOL * max(1.0, abs(cur)):
        return False
    choice = np.zeros(len(units), dtype=np.int64)
    for u in range(len(units) - 1, -1, -1):
        b, choice[u] = divmod(int(back[u][b]), kk)
    for uu, tp in zip(units, choice, strict=True):
        if st.a[uu] != sites[tp]:
            st.load[st.a[uu]] -= s.q[uu]
            st.load[sites[tp]] += s.q[uu]
            st.a[uu] = sites[tp]
    if not s.p_exact:
        for t, j in enumerate(sites):
            if closable[t] and st.load[j] <= _TOL:
                st.open[j] = False
                st.load[j] = 0.0
    return True


def _repack(
    s: _Search,
    st: _State,
    *,
    n_near: int = 4,
    deadline: float = math.inf,
    seen: dict | None = None,
) -> int:
    """Re-partition every pair of open sites, and each open site with two of its nearest
    open neighbours, while that helps. ``seen`` remembers groups already found best (by
    their sites' loads), so that only groups that changed are tried again."""
    m = s.m
    total = 0
    seen = {} if seen is None else seen

    # groups of up to 20 villages on small problems (the pruning keeps them cheap), fewer
    # on large ones where every pair of sites holds many small villages
    max_units = {2: 20, 3: 20} if len(s.q) <= _ALL_PAIRS else {2: 14, 3: 10}
    ids = (np.arange(len(s.q), dtype=float) + 1.0) ** 1.5
    sig = np.bincount(st.a, weights=ids, minlength=m + 1)

    def attempt(group: tuple[int, ...]) -> int:
        nonlocal sig
        if not all(st.open[g] for g in group):
            return 0
        key = (group, tuple(float(sig[g]) for g in group))  # which units sit where
        if key in seen:
            return 0
        if _repartition(s, st, group, max_units=max_units[len(group)]):
            sig = np.bincount(st.a, weights=ids, minlength=m + 1)
            return 1
        seen[key] = True
        return 0

    for _ in range(20):
        done = 0
        opened = [int(j) for j in np.flatnonzero(st.open[:m])]
        for a_, j in enumerate(opened):
            for k in opened[a_ + 1 :]:
                done += attempt((j, k))
        for j in opened:
            if time.perf_counter() > deadline:
                break
            nb = [int(k) for k in s.near[j] if st.open[k] and k != j][:n_near]
            for a_, k in enumerate(nb):
                for l_ in nb[a_ + 1 :]:
                    done += attempt((j, k, l_))
        if done:
            _polish(s, st)
            sig = np.bincount(st.a, weights=ids, minlength=m + 1)
        total += done
        if not done or time.perf_counter() > deadline:
            break
    return total


def _polish(s: _Search, st: _State) -> None:
    """Assignment moves until none helps or the search's time is up (repairs always run,
    so the state stays feasible)."""
    for _ in range(200):
        moved = _shift(s, st)
        moved += _repair(s, st)
        moved += _swap(s, st)
        if not moved:
            moved += _eject(s, st)
        if not moved or s.late():
            _repair(s, st)
            return


def _moves(s: _Search, st: _State, n_near: int) -> list[tuple[float, str, int, int]]:
    """Drop / add / swap moves with an estimate of their change in the objective."""
    n, m = len(s.q), s.m
    rng = np.arange(n)
    cur = s.W[rng, st.a]
    room = np.where(st.open, s.cap - st.load, -np.inf)
    after = st.load[st.a] - s.q
    closes = (after <= _TOL) & _closable(s, st)[st.a]
    ok = (after >= s.mo[st.a] - _TOL) | closes
    base = cur + np.where(closes, s.f[st.a], 0.0)
    opened = np.flatnonzero(st.open[:m] & ~s.fixed[:m])
    closed = np.flatnonzero(~st.open[:m] & s.can_open[:m])
    order = np.argsort(st.a, kind="stable")
    edges = np.searchsorted(st.a[order], np.arange(m + 2))
    at = {int(j): order[edges[j] : edges[j + 1]] for j in opened}
    for j in opened:
        at[int(j)] = at[int(j)][np.argsort(-s.q[at[int(j)]], kind="stable")]
    # per closed site: units by saving per person
    lists: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in closed:
        sv = base - s.W[:, k]
        c = np.flatnonzero(ok & np.isfinite(sv) & (s.q <= s.cap[k] + _TOL))
        c = c[np.argsort(-sv[c] / s.q[c], kind="stable")]
        lists[int(k)] = (sv[c], s.q[c], st.a[c])

    def gain(k: int, room_k: float, ppl: float, skip: int) -> float:
        """Estimated saving of pulling units into k (not those of site ``skip``)."""
        sv, q, src = lists[k]
        if skip >= 0:
            keep = src != skip
            sv, q = sv[keep], q[keep]
        pos = sv > 0
        cq = np.cumsum(q[pos])
        take = cq <= room_k + _TOL
        moved = float(q[pos][take].sum())
        g = float(sv[pos][take].sum())
        ppl += moved
        room_k -= moved
        if ppl < s.mo[k] - _TOL:
            cn = np.cumsum(q[~pos])
            need = s.mo[k] - ppl
            idx = int(np.searchsorted(cn, need - _TOL))
            if idx >= len(cn) or cn[idx] > room_k + _TOL:
                return -math.inf
            g += float(sv[~pos][: idx + 1].sum())
        return g

    def reassign(j: int, k: int | None) -> tuple[float, np.ndarray, float]:
        r = room.copy()
        r[j] = -np.inf
        if k is not None:
            r[k] = s.cap[k]
        d = 0.0
        into = 0.0
        for i in at[j]:
            c = np.where(r >= s.q[i] - _TOL, s.W[i], np.inf)
            c[j] = np.inf
            b = int(np.argmin(c))
            d += c[b] - cur[i]
            r[b] -= s.q[i]
            if b == k:
                into += s.q[i]
        return d, r, into

    out: list[tuple[float, str, int, int]] = []
    n_open = int(st.open[:m].sum())
    if not s.p_exact:
        for j in opened:
            out.append((reassign(int(j), None)[0] - s.f[j], "drop", int(j), -1))
        if s.p is None or n_open < s.p:
            for k in closed:
                g = gain(int(k), s.cap[k], 0.0, -1)
                if g > -math.inf:
                    out.append((s.f[k] - g, "add", -1, int(k)))
    closed_set = np.zeros(m, bool)
    closed_set[closed] = True
    for j in opened:
        nb = [int(kk) for kk in s.near[j] if closed_set[kk]][:n_near]
        for kn in nb:
            d, r, into = reassign(int(j), kn)
            g = gain(kn, r[kn], into, int(j))
            if g > -math.inf:
                out.append((s.f[kn] - s.f[j] + d - g, "swap", int(j), kn))
    out.sort(key=lambda t: (t[0], t[1], t[2], t[3]))
    return out


def _apply(s: _Search, st: _State, kind: str, j: int, k: int) -> _State:
    new = st.copy()
    if kind in ("drop", "swap"):
        new.open[j] = False
        if kind == "swap":
            new.open[k] = True
        units = np.flatnonzero(new.a == j)
        _place(s, new, units[np.argsort(-s.q[units], kind="stable")], banned=j)
        new.load[j] = 0.0
    if kind == "add":
        new.open[k] = True
    if kind in ("add", "swap"):
        _pull(s, new, k)
        if new.load[k] <= _TOL and not s.p_exact:
            new.open[k] = False
    _polish(s, new)
    return new


def _descend(
    s: _Search,
    st: _State,
    *,
    deadline: float,
    n_near: int,
    tries: int,
    repack: bool = False,
    seen: dict | None = None,
) -> tuple[_State, float]:
    """Best-estimate-first descent over drop / add / swap moves to a local optimum; with
    ``repack``, villages are then re-partitioned among neighbouring sites and the descent
    goes on while that helps."""
    _polish(s, st)
    z = _cost(s, st)
    while time.perf_counter() < deadline:
        better = None
        for _, kind, j, k in _moves(s, st, n_near)[:tries]:
            cand = _apply(s, st, kind, j, k)
            zc = _cost(s, cand)
            if zc < z - _TOL * max(1.0, abs(z)):
                better = (cand, zc)
                break
        if better is not None:
            st, z = better
            continue
        if repack and _repack(s, st, deadline=deadline, seen=seen):
            z = _cost(s, st)
            continue
        break
    return st, z


def _greedy_open(s: _Search, pb: _Problem) -> np.ndarray:
    """Open set for the start: with p, the locked sites plus the p best by uncapacitated
    savings among those that keep the open capacity able to reach the demand; else all."""
    m = s.m
    if pb.p is None:
        return s.can_open[:m].copy()
    open_mask = pb.locked.copy()
    per = s.W[:, :m]
    big = s.big
    cc = np.where(np.isfinite(per), per, big)
    cur = cc[:, open_mask].min(axis=1) if open_mask.any() else np.full(len(s.q), big)
    need = float(s.q.sum())
    caps_all = np.where(s.can_open[:m], s.cap[:m], 0.0)
    while open_mask.sum() < pb.p:
        slots = pb.p - int(open_mask.sum())
        closed = np.flatnonzero(~open_mask & s.can_open[:m])
        if not len(closed):
            break
        score = np.minimum(cur[:, None], cc[:, closed]).sum(axis=0) + s.f[closed]
        caps = caps_all[closed]
        order_c = np.argsort(-caps, kind="stable")
        top = caps[order_c]
        rank = np.empty(len(closed), dtype=np.int64)
        rank[order_c] = np.arange(len(closed))
        top_k = top[: slots - 1].sum()
        # capacity reachable if j opens: j plus the largest (slots - 1) other closed sites
        others = np.where(
            rank < slots - 1,
            top_k - caps + (top[slots - 1] if slots - 1 < len(top) else 0.0),
            top_k,
        )
        feasible = caps_all[open_mask].sum() + caps + others >= need
        if feasible.any():
            score = np.where(feasible, score, np.inf)
        j = closed[int(np.argmin(score))]
        open_mask[j] = True
        cur = np.minimum(cur, cc[:, j])
    return open_mask


@dataclass
class _SearchOut:
    start: _Start
    p_at_most: bool
    rounds: int
    notes: list[str]


def _to_start(pb: _Problem, s: _Search, st: _State) -> _Start:
    m = s.m
    agg: dict[tuple[int, int], float] = {}
    left_people: dict[int, int] = {}
    for u, j in enumerate(st.a):
        i = int(s.unit_vil[u])
        if j == m:
            left_people[i] = left_people.get(i, 0) + int(s.q[u])
        else:
            agg[(i, int(j))] = agg.get((i, int(j)), 0.0) + float(s.q[u])
    rows = [(i, j, ppl) for (i, j), ppl in sorted(agg.items())]
    open_mask = (st.open[:m] | pb.locked).copy()
    return rows, open_mask, sorted(left_people), left_people


def _search(
    pb: _Problem,
    *,
    time_limit_s: float,
    rounds: int | None,
    n_near: int = 12,
    tries: int = 8,
    seed: int = 0,
    improve: bool = True,
    site_every: int = 10,
    accept: float = 0.002,
    start_open: np.ndarray | None = None,
) -> _SearchOut:
    """Greedy start (or the open-site mask ``start_open``), descent with re-partitioning,
    then iterated local search: ruin and recreate of a few neighbouring sites' villages,
    and every ``site_every`` rounds a random swap of open sites followed by a descent."""
    t0 = time.perf_counter()
    deadline = t0 + max(time_limit_s, 0.0)
    notes: list[str] = []
    p_at_most = False
    s = _make_search(pb, p_exact=True)
    s.deadline = deadline
    seen: dict = {}  # site groups found best by _repack
    init = _greedy_open(s, pb)
    if start_open is not None and pb.p is None:
        init = np.asarray(start_open, dtype=bool) & s.can_open[: s.m]
    st = _assign_all(s, init)
    if not improve:
        _repair(s, st)
    else:
        st, z = _descend(
            s, st, deadline=deadline, n_near=n_near, tries=tries, repack=True, seen=seen
        )
    if s.p_exact and _shortfall(s, st) > _TOL:
        # p sites cannot all reach their minimum occupancy: open at most p
        p_at_most = True
        notes.append(
            f"the {pb.p} sites asked for cannot all reach their minimum occupancy: "
            f"at most {pb.p} open"
        )
        s = _make_search(pb, p_exact=False)
        s.deadline = deadline
        seen = {}
        st = _assign_all(s, st.open[: s.m] & (st.load[: s.m] >= s.mo[: s.m] - _TOL))
        if improve:
            st, z = _descend(
                s, st, deadline=deadline, n_near=n_near, tries=tries, repack=True, seen=seen
            )
        else:
            _repair(s, st)
    done = 0
    if improve:
        best, zb, sb = st.copy(), _cost(s, st), _shortfall(s, st)
        cur = best.copy()
        rng = np.random.default_rng(seed)
        limit = rounds if rounds is not None else 10**9
        stale = 0
        while done < limit and time.perf_counter() < deadline:
            done += 1
            if done % site_every == 0:
                # change the open set: swap one or two sites for similar closed ones
                cand = best.copy()
                for _ in range(int(rng.integers(1, 3))):
                    opened = np.flatnonzero(cand.open[: s.m] & ~s.fixed[: s.m])
                    closed_now = ~cand.open[: s.m] & s.can_open[: s.m]
                    if not len(opened) or not closed_now.any():
                        break
                    j = int(rng.choice(opened))
                    nb = [int(k) for k in s.near[j] if closed_now[k]][: max(n_near, 1)]
                    cand = _apply(s, cand, "swap", j, int(rng.choice(nb)))
                cand, z = _descend(
                    s, cand, deadline=deadline, n_near=n_near, tries=tries, repack=True, seen=seen
                )
            else:
                # re-pack the villages of a few neighbouring sites
                cand = cur.copy()
                _ruin_recreate(s, cand, rng)
                z = _cost(s, cand)
            # a better answer: less shortfall, or as little and a lower cost (a state with a
            # site below its minimum may be walked through, never kept over one without)
            sc = _shortfall(s, cand)
            if sc < sb - _TOL or (sc <= sb + _TOL and z < zb - _TOL * max(1.0, abs(zb))):
                if done % site_every != 0:
                    down, zd = _descend(
                        s,
                        cand.copy(),
                        deadline=deadline,
                        n_near=n_near,
                        tries=tries,
                        repack=True,
                        seen=seen,
                    )
                    if _shortfall(s, down) <= sc + _TOL:  # a descent never buys shortfall
                        cand, z = down, zd
                best, zb, sb = cand.copy(), z, _shortfall(s, cand)
                cur = cand
                stale = 0
            elif z <= zb + accept * abs(zb):
                cur = cand  # record-to-record: walk on through near-equal solutions
                stale += 1
            else:
                stale += 1
            if stale >= 30:
                cur, stale = best.copy(), 0
        st = best
    return _SearchOut(_to_start(pb, s, st), p_at_most, done, notes)


def _heuristic_result(
    pb: _Problem,
    out: _SearchOut,
    *,
    t0: float,
    method: str,
    bound: bool,
    bound_time_s: float,
    lp: _Solved | None = None,
) -> AllocationResult:
    rows, open_mask, left, left_people = out.start
    act = np.flatnonzero(pb.active)
    demand_total = int(pb.people[act].sum())
    usable = _usable_capacity(pb)
    extra = _shortfall_reasons(pb, left, demand_total, usable, open_mask)
    for rec, i in zip(extra, left, strict=True):
        rec["people"] = left_people[i]
    notes = list(out.notes)
    lb = math.nan
    if bound and not left:
        opts = _HighsOptions(
            time_limit_s=max(bound_time_s, 0.05),
            mip_gap=0.0,
            threads=None,
            presolve="off",
            p_at_most=out.p_at_most,
        )
        if lp is None:
            lp = _solve_highs(pb, opts, dummy=False, unplaced_cap=None, phase_one=False, relax=True)
        if lp.status == "optimal" and np.isfinite(lp.bound):
            lb = lp.bound
            notes.append(f"lower bound: LP relaxation {lb:.6g} ({lp.solve_s:.2f} s)")
        else:
            notes.append(f"no lower bound: the LP relaxation stopped ({lp.status})")
    res = _result(
        pb,
        rows,
        open_mask,
        extra,
        status="heuristic",
        gap=math.nan,
        t0=t0,
        method=method,
        notes=notes,
        lower_bound=lb,
    )
    if np.isfinite(lb):
        res.mip_gap = max(0.0, res.objective - lb) / max(abs(res.objective), 1e-9)
    return res


def allocate_heuristic(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None = None,
    max_return_min: float | None = None,
    township_penalty_min: float = 0.0,
    split: bool = False,
    opening_cost: float | Sequence[float] | np.ndarray = 0.0,
    min_occupancy: float | Sequence[float] | np.ndarray = 0.0,
    time_limit_s: float = 0.8,
    rounds: int | None = 40,
    seed: int = 0,
    bound: bool = True,
    start_open: Iterable[str] | None = None,
) -> AllocationResult:
    """Fast facility location for the dashboard: greedy start and local search.

    The model is that of :func:`allocate` (same arguments, same meaning). The search:

    1. start: every site that may open (or, with ``p``, the locked sites plus greedy
       additions by uncapacitated savings), villages assigned greedily by regret;
    2. assignment moves: shift one village, swap two villages between sites, ejection
       chains (a village moves in, one of the site's villages moves on), repair of any site
       below its minimum occupancy (close it, or pull in the villages that lose least);
    3. site moves, best estimate first: drop a site, add one, swap an open site for one of
       its 12 most similar closed sites; each move is re-assigned and polished, and taken
       only if the objective really improves;
    4. re-partition: the villages of every pair of open sites, and of each open site with
       two of its nearest open neighbours, are split among those sites in the best way
       (enumeration with capacity and cost pruning; groups of up to 16 / 12 villages) --
       the move that packs large villages, which single shifts and swaps cannot;
    5. ``rounds`` of iterated local search: ruin and recreate (the villages of a few
       neighbouring sites taken out and put back by regret), every tenth round a random
       swap of sites and a descent; the best answer is kept (deterministic for a given
       ``seed`` unless the time limit cuts the rounds short).

    Leaving fewer people out always wins, as in the exact model's two phases. The LP
    relaxation of the model (HiGHS) gives a lower bound and so a gap the answer is within.

    Parameters
    ----------
    demand, sites, cost_min, p, max_return_min, township_penalty_min, split, opening_cost, min_occupancy
        As in :func:`allocate`. With ``split=True`` villages are cut into pieces of about a
        quarter of the median village before the search (the exact model splits in whole
        people).
    time_limit_s : float
        Wall-clock budget of the search; the bound's LP gets what is left (at least a
        quarter of the budget), so the whole call takes about this long at most.
    rounds : int or None
        Iterated-local-search rounds after the first descent; None: until the time limit.
    seed : int
        Random seed of the perturbations.
    bound : bool
        Solve the LP relaxation for a lower bound (skipped when people are left out).
    start_open : iterable of str, optional
        Site ids to start the search from instead of the greedy start (without ``p`` only),
        e.g. a known answer of a neighbouring problem; ids that are not sites are ignored.

    Returns
    -------
    AllocationResult
        ``status`` "heuristic" (nothing proved), ``method`` "local_search"; ``mip_gap`` and
        ``lower_bound`` from the LP relaxation (NaN without a bound); or one of the statuses
        of an empty model (``nothing_to_place``, ``no_sites``, ``none_placeable``).

    Raises
    ------
    LayerSchemaError, PolicyError
        As :func:`allocate`.
    """
    t0 = time.perf_counter()
    pb = _prepare(
        demand,
        sites,
        cost_min,
        p=p,
        max_return_min=max_return_min,
        township_penalty_min=township_penalty_min,
        split=split,
        opening_cost=opening_cost,
        min_occupancy=min_occupancy,
    )
    if not pb.active.any():
        return _empty_result(pb, t0=t0, method="local_search")
    start = None
    if start_open is not None:
        wanted = set(map(str, start_open))
        start = np.array([str(x) in wanted for x in pb.sid], dtype=bool)
    out = _search(
        pb,
        time_limit_s=time_limit_s - (time.perf_counter() - t0),
        rounds=rounds,
        seed=seed,
        start_open=start,
    )
    out.notes.append(f"local search: {out.rounds} perturbation rounds")
    return _heuristic_result(
        pb,
        out,
        t0=t0,
        method="local_search",
        bound=bound,
        bound_time_s=max(time_limit_s - (time.perf_counter() - t0), 0.25 * time_limit_s),
    )


def greedy_allocate(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    cost_min: np.ndarray,
    *,
    p: int | None = None,
    max_return_min: float | None = None,
    township_penalty_min: float = 0.0,
    split: bool = False,
    opening_cost: float | Sequence[float] | np.ndarray = 0.0,
    min_occupancy: float | Sequence[float] | np.ndarray = 0.0,
) -> AllocationResult:
    """Greedy baseline with the inputs and outputs of :func:`allocate`.

    With ``p``: open the locked sites, then add one site at a time, the one that most
    lowers the uncapacitated cost (opening cost included), among those that keep the open
    capacity able to reach the demand; without ``p`` every site that may open is offered.
    Villages are placed by regret (the most to lose first) in their cheapest open site with
    room; a site left below its minimum occupancy is closed or filled, whichever costs
    less; sites left empty close. No local search: ``status`` is ``heuristic``, ``mip_gap``
    NaN. It takes no solver options: a misspelt or solver-only keyword is a ``TypeError``,
    not silently ignored.
    """
    t0 = time.perf_counter()
    pb = _prepare(
        demand,
        sites,
        cost_min,
        p=p,
        max_return_min=max_return_min,
        township_penalty_min=township_penalty_min,
        split=split,
        opening_cost=opening_cost,
        min_occupancy=min_occupancy,
    )
    if not pb.active.any():
        return _empty_result(pb, t0=t0, method="greedy")
    out = _search(pb, time_limit_s=0.0, rounds=0, improve=False)
    return _heuristic_result(pb, out, t0=t0, method="greedy", bound=False, bound_time_s=0.0)


# --------------------------------------------------------------------------- robustness


def site_selection_frequency(
    runs: Sequence[Iterable[str]], *, sites: Sequence[str] | None = None
) -> pd.Series:
    """Share of runs in which each site was chosen.

    Parameters
    ----------
    runs : sequence of iterables of site ids
        The chosen (open) sites of each Monte Carlo run.
    sites : sequence of str, optional
        All candidate ids, so never-chosen sites show 0.

    Returns
    -------
    pandas.Series
        ``frac`` in [0, 1] indexed by ``site_id``, highest first (ties by id).
    """
    n = len(runs)
    counts: dict[str, int] = {str(s): 0 for s in (sites or [])}
    for r in runs:
        for s in set(map(str, r)):
            counts[s] = counts.get(s, 0) + 1
    if n == 0:
        return pd.Series({k: np.nan for k in counts}, name="frac", dtype=float).rename_axis(
            "site_id"
        )
    ser = pd.Series({k: v / n for k, v in counts.items()}, name="frac", dtype=float).rename_axis(
        "site_id"
    )
    return ser.sort_index().sort_values(ascending=False, kind="stable")


def robustness(
    weight_draws: np.ndarray,
    run: Callable[[np.ndarray], Iterable[str]],
    *,
    sites: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.Series:
    """Monte Carlo robustness of site selection over perturbed weights.

    Parameters
    ----------
    weight_draws : numpy.ndarray, shape (n, k)
        e.g. from :func:`geo.suitability.monte_carlo_weights`.
    run : callable
        ``run(weights) -> chosen site ids`` (suitability -> sites -> allocation; map generated
        sites to a base set with :func:`match_sites` so ids compare across runs).
    sites : sequence of str, optional
        All base site ids (never-chosen ones report 0).
    progress : callable, optional
        Called as ``progress(done, total)`` after each draw.

    Returns
    -------
    pandas.Series
        Frequency per site (see :func:`site_selection_frequency`).
    """
    draws = np.atleast_2d(np.asarray(weight_draws, dtype=float))
    runs = []
    for d, w in enumerate(draws):
        runs.append(set(map(str, run(w))))
        if progress is not None:
            progress(d + 1, len(draws))
    return site_selection_frequency(runs, sites=sites)
