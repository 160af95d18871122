"""Suitability of land for resettlement sites: exclusions, factor scaling, AHP weights.

A weighted overlay (multi-criteria decision analysis) on the analysis grid:

1. hard exclusions (:func:`exclusion_mask`): steep land, geological-hazard zones with a
   buffer in metres, protected land, water bodies and cells outside the county;
2. each factor rescaled to 0..1 with a direction (:func:`rescale`);
3. weights from an AHP pairwise comparison matrix (:func:`ahp_weights`), with Saaty's
   consistency ratio reported (above 0.1 is a warning, not an error);
4. the weighted sum (:func:`suitability`), NaN where excluded.

:func:`monte_carlo_weights` perturbs the AHP judgements for a robustness analysis
(see :func:`geo.siting.site_selection_frequency`).

Everything here works on arrays in the workspace's metric CRS; nothing reads files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numba
import numpy as np
import rasterio.features
import shapely
from affine import Affine

from layers.errors import LayerSchemaError, PolicyError

__all__ = [
    "RANDOM_INDEX",
    "ahp_weights",
    "rescale",
    "suitability",
    "exclusion_mask",
    "monte_carlo_weights",
]

#: Saaty's random consistency index RI for matrices of order n = 1..15
#: (Saaty, *The Analytic Hierarchy Process*, 1980; extended table as used by AHPy/Expert Choice).
RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}

_DIRECTIONS = ("benefit", "cost")


# --------------------------------------------------------------------------- AHP


def _validate_pairwise(matrix: np.ndarray, labels: Sequence[str] | None, rtol: float) -> np.ndarray:
    a = np.asarray(matrix, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise PolicyError(f"AHP matrix: expected a square 2-D matrix, found shape {a.shape}")
    n = a.shape[0]
    if n == 0:
        raise PolicyError("AHP matrix: expected at least one criterion, found an empty matrix")
    if n > max(RANDOM_INDEX):
        raise PolicyError(
            f"AHP matrix: expected at most {max(RANDOM_INDEX)} criteria (Saaty's random index table), found {n}"
        )
    if labels is not None and len(labels) != n:
        raise PolicyError(f"AHP matrix: {len(labels)} labels for a {n}x{n} matrix")
    names = list(labels) if labels is not None else [str(i) for i in range(n)]

    def cell(i: int, j: int) -> str:
        return f"[{names[i]}, {names[j]}]"

    problems: list[str] = []
    for i in range(n):
        for j in range(n):
            v = a[i, j]
            if not np.isfinite(v) or v <= 0:
                problems.append(f"cell {cell(i, j)} must be a positive number, found {v!r}")
    if not problems:
        for i in range(n):
            if not math.isclose(a[i, i], 1.0, rel_tol=rtol):
                problems.append(f"diagonal cell {cell(i, i)} must be 1, found {a[i, i]:g}")
            for j in range(i + 1, n):
                if not math.isclose(a[i, j] * a[j, i], 1.0, rel_tol=rtol):
                    problems.append(
                        f"cells {cell(i, j)}={a[i, j]:g} and {cell(j, i)}={a[j, i]:g} are not reciprocal "
                        f"(expected {cell(j, i)}={1 / a[i, j]:.4g})"
                    )
    if problems:
        raise PolicyError("AHP matrix: " + "; ".join(problems))
    return a


def ahp_weights(
    matrix: np.ndarray | Sequence[Sequence[float]],
    *,
    labels: Sequence[str] | None = None,
    rtol: float = 0.01,
) -> tuple[np.ndarray, float, float]:
    """Weights from an AHP pairwise comparison matrix by the principal eigenvector.

    Parameters
    ----------
    matrix : array-like, shape (n, n)
        ``matrix[i, j]`` says how much more important criterion ``i`` is than ``j``
        (Saaty's 1..9 scale); positive and reciprocal (``a_ji = 1 / a_ij``).
    labels : sequence of str, optional
        Criterion names, used only to name offending cells in errors.
    rtol : float
        Relative tolerance for reciprocity and the unit diagonal (``1/3`` typed as 0.333 passes).

    Returns
    -------
    weights : numpy.ndarray, shape (n,)
        Principal right eigenvector normalised to sum to 1.
    consistency_ratio : float
        ``CR = CI / RI`` with ``CI = (lambda_max - n) / (n - 1)`` and Saaty's random index;
        0 for n <= 2 (always consistent). Above 0.1 is a warning.
    lambda_max : float
        Principal eigenvalue.

    Raises
    ------
    PolicyError
        If the matrix is not square, has non-positive or non-finite cells, a diagonal other
        than 1, or non-reciprocal pairs (each offending cell is named), or n > 15.
    """
    a = _validate_pairwise(np.asarray(matrix, dtype=float), labels, rtol)
    n = a.shape[0]
    if n == 1:
        return np.ones(1), 0.0, 1.0
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    # Perron vector of a positive matrix: one sign throughout, so abs() only fixes the sign.
    w = np.abs(vecs[:, k].real)
    w = w / w.sum()
    if n <= 2:
        return w, 0.0, lam
    ci = (lam - n) / (n - 1)
    cr = ci / RANDOM_INDEX[n]
    return w, float(max(cr, 0.0)), lam


def monte_carlo_weights(
    matrix_or_weights: np.ndarray | Sequence[float] | Sequence[Sequence[float]],
    *,
    n: int,
    spread: float,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Perturbed weight vectors for a robustness analysis.

    With a pairwise matrix, every judgement above the diagonal is multiplied by
    ``exp(u)``, ``u ~ Uniform(-ln(1+spread), ln(1+spread))``, its reciprocal cell set to
    match, and the weights recomputed by :func:`ahp_weights`. With a weight vector, each
    weight is perturbed the same way and the vector renormalised.

    Parameters
    ----------
    matrix_or_weights : array-like
        An (k, k) AHP matrix or a (k,) weight vector.
    n : int
        Number of draws.
    spread : float
        ``0.25`` lets each judgement move between ``x / 1.25`` and ``x * 1.25``.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        One weight vector per row, each summing to 1.

    Raises
    ------
    PolicyError
        If ``n`` < 1, ``spread`` < 0, or the matrix/weights are invalid.
    """
    if n < 1:
        raise PolicyError(f"monte_carlo_weights: n must be >= 1, found {n}")
    if not np.isfinite(spread) or spread < 0:
        raise PolicyError(f"monte_carlo_weights: spread must be >= 0, found {spread}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    arr = np.asarray(matrix_or_weights, dtype=float)
    half = math.log1p(spread)
    if arr.ndim == 1:
        if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
            raise PolicyError(
                f"monte_carlo_weights: weights must be non-negative with a positive sum, found {arr}"
            )
        draws = arr[None, :] * np.exp(gen.uniform(-half, half, size=(n, arr.size)))
        return draws / draws.sum(axis=1, keepdims=True)
    base = _validate_pairwise(arr, None, 0.01)
    k = base.shape[0]
    iu = np.triu_indices(k, 1)
    out = np.empty((n, k))
    for d in range(n):
        m = np.ones((k, k))
        m[iu] = base[iu] * np.exp(gen.uniform(-half, half, size=len(iu[0])))
        m[(iu[1], iu[0])] = 1.0 / m[iu]
        out[d] = ahp_weights(m)[0]
    return out


# --------------------------------------------------------------------------- scaling and overlay


def rescale(
    values: np.ndarray,
    *,
    direction: str,
    lo: float | None = None,
    hi: float | None = None,
    points: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Rescale a factor to 0..1 (1 = most suitable), clipped; NaN stays NaN.

    Parameters
    ----------
    values : numpy.ndarray
        Factor values (any shape).
    direction : {"benefit", "cost"}
        ``benefit``: higher is better (0 at ``lo``, 1 at ``hi``); ``cost``: lower is better
        (1 at or below ``lo``, 0 at or above ``hi``) -- e.g. travel time with ``lo=15, hi=90``
        minutes scores 1 up to 15 min and 0 from 90 min on, linear between.
    lo, hi : float, optional
        Range ends; default the finite minimum and maximum of ``values``. With ``lo == hi``
        the result is a step at that value.
    points : sequence of (value, score), optional
        A piecewise-linear scoring instead of ``lo``/``hi`` (values increasing, scores in 0..1),
        held constant beyond the ends; ``direction`` is then only validated.

    Returns
    -------
    numpy.ndarray
        float64 array of scores in [0, 1], NaN where ``values`` is NaN.

    Raises
    ------
    PolicyError
        For an unknown direction, ``lo > hi``, or bad ``points``.
    """
    if direction not in _DIRECTIONS:
        raise PolicyError(f"rescale: direction must be one of {_DIRECTIONS}, found {direction!r}")
    v = np.asarray(values, dtype=float)
    nan = np.isnan(v)
    if points is not None:
        pts = np.asarray(points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise PolicyError(
                f"rescale: points must be >= 2 (value, score) pairs, found {points!r}"
            )
        if np.any(np.diff(pts[:, 0]) <= 0):
            raise PolicyError(f"rescale: point values must increase, found {pts[:, 0].tolist()}")
        if np.any((pts[:, 1] < 0) | (pts[:, 1] > 1)):
            raise PolicyError(f"rescale: point scores must lie in 0..1, found {pts[:, 1].tolist()}")
        out = np.interp(np.where(nan, pts[0, 0], v), pts[:, 0], pts[:, 1])
        out[nan] = np.nan
        return out
    finite = v[~nan]
    if lo is None:
        lo = float(finite.min()) if finite.size else 0.0
    if hi is None:
        hi = float(finite.max()) if finite.size else 1.0
    if lo > hi:
        raise PolicyError(f"rescale: expected lo <= hi, found lo={lo} > hi={hi}")
    if hi == lo:
        out = (v >= hi).astype(float) if direction == "benefit" else (v <= lo).astype(float)
    else:
        out = (v - lo) / (hi - lo)
        if direction == "cost":
            out = 1.0 - out
        out = np.clip(out, 0.0, 1.0)
    out[nan] = np.nan
    return out


@numba.njit(cache=True, nogil=True)
def _rescale_f32(v, lo, hi, cost):  # pragma: no cover - numba
    # the arithmetic of rescale() cell by cell, in float64, rounded to float32 once
    out = np.empty(v.size, dtype=np.float32)
    span = hi - lo
    for i in range(v.size):
        x = float(v[i])
        if np.isnan(x):
            out[i] = np.nan
            continue
        o = (x - lo) / span
        if cost:
            o = 1.0 - o
        out[i] = np.float32(min(max(o, 0.0), 1.0))
    return out


def rescale_float32(
    values: np.ndarray, *, direction: str, lo: float | None = None, hi: float | None = None
) -> np.ndarray:
    """:func:`rescale` as float32, in one pass and without float64 temporaries (the same
    values as ``rescale(...).astype("float32")``, bit for bit)."""
    v = np.asarray(values)
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(float)
    if lo is None or hi is None:
        known = v[~np.isnan(v)]  # as rescale(): the range of the values that are not NaN
        if lo is None:
            lo = float(known.min()) if known.size else 0.0
        if hi is None:
            hi = float(known.max()) if known.size else 1.0
    if direction not in _DIRECTIONS or float(lo) >= float(hi):
        return np.asarray(rescale(v, direction=direction, lo=lo, hi=hi), dtype="float32")
    flat = np.ascontiguousarray(v).reshape(-1)
    return _rescale_f32(flat, float(lo), float(hi), direction == "cost").reshape(v.shape)


def suitability(
    factors: Mapping[str, np.ndarray],
    *,
    weights: Mapping[str, float],
    directions: Mapping[str, str],
    ranges: Mapping[str, tuple[float | None, float | None] | None],
    exclusion: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted overlay of rescaled factors, 0..1, NaN where excluded.

    Parameters
    ----------
    factors : mapping of name to numpy.ndarray
        Factor rasters on one grid (e.g. ``travel_min_county_seat``, ``road_dist_m``, ``slope_deg``).
    weights : mapping of name to float
        One non-negative weight per factor (e.g. from :func:`ahp_weights`); renormalised to sum 1.
    directions : mapping of name to {"benefit", "cost"}
        One per factor.
    ranges : mapping of name to (lo, hi) or None
        Scaling range per factor (see :func:`rescale`); a missing key or None uses the data range.
    exclusion : numpy.ndarray of bool, optional
        True where a site may not go (see :func:`exclusion_mask`).

    Returns
    -------
    numpy.ndarray
        float32 raster; NaN where excluded or where any factor is NaN (outside the grid's data,
        unreachable). Callers that want "unreachable" to score 0 fill it before calling.

    Raises
    ------
    PolicyError
        If weights/directions do not name exactly the factors, or weights are negative or sum to 0.
    LayerSchemaError
        If factor rasters or the exclusion mask differ in shape.
    """
    names = list(factors)
    if not names:
        raise PolicyError("suitability: expected at least one factor, found none")
    problems = []
    for what, mapping in (("weights", weights), ("directions", directions)):
        missing = [k for k in names if k not in mapping]
        extra = [k for k in mapping if k not in factors]
        if missing:
            problems.append(f"{what} missing for factor(s) {missing}")
        if extra:
            problems.append(f"{what} given for unknown factor(s) {extra}")
    extra_r = [k for k in ranges if k not in factors]
    if extra_r:
        problems.append(f"ranges given for unknown factor(s) {extra_r}")
    if problems:
        raise PolicyError("suitability: " + "; ".join(problems) + f" (factors: {names})")
    w = np.array([float(weights[k]) for k in names])
    if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise PolicyError(
            f"suitability: weights must be non-negative with a positive sum, found {dict(weights)}"
        )
    w = w / w.sum()
    shape = np.shape(factors[names[0]])
    for k in names:
        if np.shape(factors[k]) != shape:
            raise LayerSchemaError(
                f"suitability: factor {k!r} has shape {np.shape(factors[k])}, expected {shape} like {names[0]!r}"
            )
    if exclusion is not None and np.shape(exclusion) != shape:
        raise LayerSchemaError(
            f"suitability: exclusion mask has shape {np.shape(exclusion)}, expected {shape}"
        )
    total = np.zeros(shape, dtype=float)
    for wk, k in zip(w, names, strict=True):
        rng = ranges.get(k) or (None, None)
        total += wk * rescale(factors[k], direction=directions[k], lo=rng[0], hi=rng[1])
    if exclusion is not None:
        total[np.asarray(exclusion, dtype=bool)] = np.nan
    return total.astype(np.float32)


# --------------------------------------------------------------------------- exclusions


def _as_geoms(geoms: Iterable | None) -> np.ndarray:
    if geoms is None:
        return np.empty(0, dtype=object)
    if hasattr(geoms, "geometry") and hasattr(geoms, "columns"):  # GeoDataFrame
        geoms = geoms.geometry
    arr = np.asarray(list(geoms), dtype=object)
    if arr.size:
        bad = [
            i for i, g in enumerate(arr) if g is not None and not isinstance(g, shapely.Geometry)
        ]
        if bad:
            raise LayerSchemaError(
                f"exclusion_mask: expected shapely geometries, found {type(arr[bad[0]]).__name__}"
            )
    return arr


def _burn(
    geoms: np.ndarray,
    buffers: np.ndarray | float,
    shape: tuple[int, int],
    transform: Affine,
    all_touched: bool,
) -> np.ndarray:
    if geoms.size == 0:
        return np.zeros(shape, dtype=bool)
    keep = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    geoms = geoms[keep]
    if np.ndim(buffers):
        buffers = np.asarray(buffers, dtype=float)[keep]
    if geoms.size == 0:
        return np.zeros(shape, dtype=bool)
    buffered = shapely.buffer(geoms, np.nan_to_num(buffers, nan=0.0)) if np.any(buffers) else geoms
    # A zero-width buffer of a point or line is empty; burn the original geometry instead.
    buffered = np.where(shapely.is_empty(buffered), geoms, buffered)
    return rasterio.features.rasterize(
        ((g, 1) for g in buffered),
        out_shape=shape,
        transform=transform,
        fill=0,
        all_touched=all_touched,
        dtype="uint8",
    ).astype(bool)


def exclusion_mask(
    *,
    shape: tuple[int, int],
    transform: Affine,
    slope_deg: np.ndarray | None = None,
    slope_limit_deg: float | None = None,
    hazard_geoms: Iterable | None = None,
    hazard_radius_m: Sequence[float] | np.ndarray | None = None,
    hazard_buffer_m: float = 0.0,
    protected_geoms: Iterable | None = None,
    protected_buffer_m: float = 0.0,
    water_geoms: Iterable | None = None,
    water_buffer_m: float = 0.0,
    outside_mask: np.ndarray | None = None,
    all_touched: bool = True,
) -> np.ndarray:
    """Cells where no resettlement site may go.

    Parameters
    ----------
    shape, transform
        The analysis grid (metric CRS; buffers are in its units, metres).
    slope_deg : numpy.ndarray, optional
        Slope raster; cells with slope > ``slope_limit_deg`` are excluded, NaN slope too.
    slope_limit_deg : float, optional
        Required with ``slope_deg`` (the profile's ``[suitability] slope_limit_deg``;
        the national profile gives a 25 % grade = 14.04 degrees, CJJ 83-2016).
    hazard_geoms : iterable of shapely geometries or GeoDataFrame, optional
        Hazard points (with ``hazard_radius_m``) or polygons.
    hazard_radius_m : sequence of float, optional
        Per-geometry radius (NaN = 0), added to ``hazard_buffer_m``.
    hazard_buffer_m : float
        Safety buffer around every hazard, applied to the geometries before rasterizing.
    protected_geoms, water_geoms : iterable of geometries, optional
        Ecological redline / basic farmland / water-source protection; water bodies.
    protected_buffer_m, water_buffer_m : float
        Buffers for those.
    outside_mask : numpy.ndarray of bool, optional
        True outside the county boundary.
    all_touched : bool
        Exclude every cell an (buffered) exclusion geometry touches (conservative).

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
        True = excluded.

    Raises
    ------
    LayerSchemaError
        If a raster's shape differs from ``shape`` or ``hazard_radius_m`` has the wrong length.
    PolicyError
        If a buffer or the slope limit is negative.
    """
    shape = (int(shape[0]), int(shape[1]))
    for name, val in (
        ("hazard_buffer_m", hazard_buffer_m),
        ("protected_buffer_m", protected_buffer_m),
        ("water_buffer_m", water_buffer_m),
        ("slope_limit_deg", 0.0 if slope_limit_deg is None else slope_limit_deg),
    ):
        if not np.isfinite(val) or val < 0:
            raise PolicyError(f"exclusion_mask: {name} must be a non-negative number, found {val}")
    mask = np.zeros(shape, dtype=bool)
    if slope_deg is not None:
        s = np.asarray(slope_deg, dtype=float)
        if s.shape != shape:
            raise LayerSchemaError(
                f"exclusion_mask: slope_deg has shape {s.shape}, expected {shape}"
            )
        if slope_limit_deg is None:
            raise PolicyError("exclusion_mask: slope_deg given without slope_limit_deg")
        with np.errstate(invalid="ignore"):
            mask |= ~(s <= slope_limit_deg)
    if outside_mask is not None:
        o = np.asarray(outside_mask, dtype=bool)
        if o.shape != shape:
            raise LayerSchemaError(
                f"exclusion_mask: outside_mask has shape {o.shape}, expected {shape}"
            )
        mask |= o
    hz = _as_geoms(hazard_geoms)
    if hazard_radius_m is not None:
        r = np.asarray(hazard_radius_m, dtype=float)
        if r.shape != hz.shape:
            raise LayerSchemaError(
                f"exclusion_mask: hazard_radius_m has {r.size} values, expected one per hazard geometry ({hz.size})"
            )
        hz_buf = np.nan_to_num(r, nan=0.0) + hazard_buffer_m
    else:
        hz_buf = np.full(hz.shape, float(hazard_buffer_m))
    mask |= _burn(hz, hz_buf, shape, transform, all_touched)
    mask |= _burn(
        _as_geoms(protected_geoms), float(protected_buffer_m), shape, transform, all_touched
    )
    mask |= _burn(_as_geoms(water_geoms), float(water_buffer_m), shape, transform, all_touched)
    return mask
