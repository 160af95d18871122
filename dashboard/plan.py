"""Read a plan directory once, reproject and simplify it for the browser.

A plan directory is what ``anju run WORKSPACE --out OUT`` writes (see the plan output
contract): ``plan.gpkg`` (EPSG:4490), ``rasters/*.tif``, ``tables/``, ``indicators.json``,
``manifest.json``.  :func:`load_plan` returns a :class:`Plan` whose layers are in
EPSG:4326, simplified (about 20 m) and rounded (5 decimals), cached per file mtime.
The households table is never read here: personal data must not reach the browser.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.catalogue import PERSONAL_COLUMNS, TRAVEL_KINDS
from layers.errors import LayerSchemaError
from layers.plan import PLAN_FORMAT, PLAN_LAYERS, open_plan, plan_gpkg

WEB_CRS = "EPSG:4326"

#: The travel-time rasters the overlays offer.
RASTER_KINDS = tuple(f"travel_min_{k}" for k in TRAVEL_KINDS)


@dataclass
class Plan:
    """A loaded plan, ready for the dashboard.

    Attributes
    ----------
    plan_dir : Path
    layers : mapping of str to GeoDataFrame
        Every plan.gpkg layer, in EPSG:4326, simplified and rounded, read on first use;
        absent layers are empty GeoDataFrames.
    indicators : list of dict
        The policy profile's indicators (id, name_zh, name_en, rule, evidence, threshold,
        unit, clause, weight, verified: False when the threshold or clause is a placeholder).
    profile : dict
        Profile name, title and kind; ``verified`` and ``inferred_counts_as_met`` when the
        pipeline records them.
    manifest : dict
        The parsed manifest.json (``{}`` when absent).
    rasters : dict of str to Path
        Raster name (``dem``, ``slope_deg``, ``travel_min_<kind>``, ``suitability``) to file.
    """

    plan_dir: Path
    layers: Mapping[str, gpd.GeoDataFrame]
    indicators: list[dict[str, Any]]
    profile: dict[str, Any]
    manifest: dict[str, Any]
    rasters: dict[str, Path] = field(default_factory=dict)
    _memo: dict = field(default_factory=dict, repr=False)

    def memo(self, key: Any, fn):
        """``fn()`` computed once per plan and ``key`` (GeoJSON payloads, tables)."""
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    @property
    def villages(self) -> gpd.GeoDataFrame:
        """The villages layer."""
        return self.layers["villages"]

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """A layer by name; an empty GeoDataFrame when the plan has none."""
        if name in self.layers:
            return self.layers[name]
        return self.memo("empty", _empty)

    @property
    def indicator_ids(self) -> list[str]:
        """Ids of the indicators present as columns in the villages layer."""
        return [i["id"] for i in self.indicators if i["id"] in self.villages.columns]

    @property
    def summary(self) -> dict[str, Any]:
        """The manifest summary (``{}`` when absent)."""
        return dict(self.manifest.get("summary") or {})

    @property
    def bounds(self) -> list[list[float]]:
        """``[[south, west], [north, east]]`` of the villages (and boundary when present)."""
        return self.memo("bounds", self._bounds)

    def _bounds(self) -> list[list[float]]:
        frames = [self.villages]
        if not self.layer("boundary").empty:
            frames = [self.layer("boundary")]
        minx, miny, maxx, maxy = pd.concat(frames).total_bounds
        return [[float(miny), float(minx)], [float(maxy), float(maxx)]]

    def profile_title(self, lang: str = "zh") -> str:
        """The policy profile's title in ``lang`` (falls back to title, then name)."""
        for src in (self.profile, self.manifest.get("policy") or {}):
            for key in (f"title_{lang}", "title", "title_zh", "name"):
                if src.get(key):
                    return str(src[key])
        return ""

    @property
    def center(self) -> list[float]:
        """``[lat, lon]`` of the middle of :attr:`bounds`."""
        (s, w), (n, e) = self.bounds
        return [round((s + n) / 2, 5), round((w + e) / 2, 5)]


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"geometry": gpd.GeoSeries([], crs=WEB_CRS)}, crs=WEB_CRS)


def plan_status(plan_dir: Path, *, root: Path | None = None) -> tuple[str, str]:
    """Check a plan directory without loading it.

    Relative input paths in manifest.json are looked up in ``plan_dir``, then in ``root``
    (default: the current directory).

    Returns
    -------
    (status, detail)
        ``status`` is ``"ok"``, ``"missing"`` (no plan.gpkg), or ``"outdated"`` (an input
        listed in manifest.json is newer than the manifest and its sha256 changed, or the
        plan was written in an older layout than :data:`layers.plan.PLAN_FORMAT`);
        ``detail`` names the file.
    """
    plan_dir = Path(plan_dir)
    gpkg = plan_dir / "plan.gpkg"
    if not gpkg.is_file():
        return "missing", str(gpkg)
    man = plan_dir / "manifest.json"
    if man.is_file():
        try:
            manifest = json.loads(man.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return "ok", ""
        if manifest.get("plan_format") != PLAN_FORMAT and "inputs" in manifest:
            # a plan the pipeline wrote in an older layout: rebuild it
            return (
                "outdated",
                f"{man} (plan format {manifest.get('plan_format', 1)}, expected {PLAN_FORMAT})",
            )
        inputs = manifest.get("inputs") or []
        t0 = man.stat().st_mtime
        for item in inputs:
            p = Path(str(item.get("path", "")))
            if not p.is_absolute():
                p = (plan_dir / p) if (plan_dir / p).exists() else (root or Path.cwd()) / p
            if p.is_file() and p.stat().st_mtime > t0 + 1 and not _same_sha(p, item.get("sha256")):
                return "outdated", str(p)
    return "ok", ""


def _same_sha(path: Path, sha: str | None) -> bool:
    """Whether ``path`` still has checksum ``sha`` (a newer mtime alone, as after a git
    checkout, does not make a plan outdated)."""
    if not sha:
        return False
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == sha


def load_plan(plan_dir: Path | str, *, simplify_m: float = 20.0, precision: int = 5) -> Plan:
    """Load a plan directory (cached until plan.gpkg changes).

    Parameters
    ----------
    plan_dir : path
        The OUT directory of ``anju run``.
    simplify_m : float
        Simplification tolerance in metres (applied in the plan's metric CRS).
    precision : int
        Decimal places kept in EPSG:4326 coordinates.

    Returns
    -------
    Plan

    Raises
    ------
    LayerNotFoundError
        When plan.gpkg or its ``villages`` layer is missing.
    LayerSchemaError
        When plan.gpkg, indicators.json or manifest.json cannot be read.
    """
    plan_dir = Path(plan_dir).resolve()
    gpkg = plan_gpkg(plan_dir)
    stamp = gpkg.stat().st_mtime_ns
    for extra in ("indicators.json", "manifest.json"):
        p = plan_dir / extra
        if p.is_file():
            stamp += p.stat().st_mtime_ns
    return _load_cached(str(plan_dir), stamp, simplify_m, precision)


@dataclass
class StoreSource:
    """A workspace in a shared plan store (``anju serve --store URL``) as the dashboard's plan.

    The dashboard serves the version the store's ``current`` pointer names: every
    :meth:`plan_dir` asks the store (through its connection pool, at most once per
    ``refresh_s`` seconds) and returns that version's local folder, unpacked from the
    store once per version (:meth:`layers.store_postgis.PostgisStore.snapshot_dir`), so a
    newly published plan is served from the next request on, and never half of one.

    Attributes
    ----------
    store : PostgisStore
    workspace : str or None
        The published workspace (None: the store's only one).
    refresh_s : float
        Seconds between two looks at the store's ``current`` pointer.
    """

    store: Any
    workspace: str | None = None
    refresh_s: float = 2.0
    _last: tuple[float, Path] | None = field(default=None, repr=False)

    def plan_dir(self) -> Path:
        """The local folder of the current version.

        While the store cannot be reached the last version served stays on; before any
        was served this raises the store's error.
        """
        import time

        from layers.errors import AnjuError

        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.refresh_s:
            return self._last[1]
        try:
            path = self.store.snapshot_dir(self.workspace)
        except AnjuError:
            if self._last is None:
                raise
            path = self._last[1]
        self._last = (now, path)
        return path


class _LazyLayers(Mapping[str, gpd.GeoDataFrame]):
    """The plan's layers, each read and prepared on first use (thread-safe, once).

    A page asks for the layers it shows: the coverage page of a freshly started server
    needs the villages and a few context layers, not the allocation lines or households.
    """

    def __init__(self, stored: Any, simplify_m: float, precision: int) -> None:
        self._stored = stored
        self._names = [n for n in PLAN_LAYERS if n in stored.layer_names]
        self._metric = stored.manifest.get("crs_metric")
        self._simplify_m = simplify_m
        self._precision = precision
        self._done: dict[str, gpd.GeoDataFrame] = {}
        self._locks = {n: threading.Lock() for n in self._names}

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        if name in self._done:
            return self._done[name]
        if name not in self._locks:
            raise KeyError(name)
        with self._locks[name]:
            if name not in self._done:
                self._done[name] = prepare_layer(
                    self._stored.read_layer(name),
                    metric_crs=self._metric,
                    simplify_m=self._simplify_m,
                    precision=self._precision,
                )
        return self._done[name]

    def __contains__(self, name: object) -> bool:
        return name in self._locks

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@lru_cache(maxsize=4)
def _load_cached(plan_dir: str, stamp: int, simplify_m: float, precision: int) -> Plan:
    stored = open_plan(plan_dir)
    layers = _LazyLayers(stored, simplify_m, precision)
    layers["villages"]  # read now: a plan without a readable villages layer fails to load
    indicators, profile = parse_indicators(stored.indicators)
    return Plan(
        plan_dir=stored.plan_dir,
        layers=layers,
        indicators=indicators,
        profile=profile,
        manifest=stored.manifest,
        rasters=stored.raster_paths,
    )


def parse_indicators(raw: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Split indicators.json into (indicators, profile).

    Accepts either a bare list of indicators or a dict with ``indicators`` plus profile
    fields (``name``, ``title``, ``kind``, or a nested ``profile`` dict).

    Raises
    ------
    LayerSchemaError
        When an indicator has no ``id``.
    """
    if isinstance(raw, list):
        items, profile = raw, {}
    elif isinstance(raw, dict):
        items = raw.get("indicators") or []
        profile = dict(raw.get("profile") or {})
        for key in ("name", "title", "kind"):
            if key in raw and key not in profile:
                profile[key] = raw[key]
    else:
        raise LayerSchemaError(
            f"indicators.json: expected a list or an object, found {type(raw).__name__}"
        )
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise LayerSchemaError(f"indicators.json: indicator #{i} has no 'id': {item!r}")
        d = dict(item)
        d.setdefault("name_zh", d["id"])
        d.setdefault("name_en", d["id"])
        out.append(d)
    return out, profile


def prepare_layer(
    gdf: gpd.GeoDataFrame,
    *,
    metric_crs: str | None = None,
    simplify_m: float = 20.0,
    precision: int = 5,
) -> gpd.GeoDataFrame:
    """Reproject a layer to EPSG:4326, simplified and rounded, personal columns dropped.

    Parameters
    ----------
    gdf : GeoDataFrame
        Any CRS (a layer with no CRS is assumed to be EPSG:4490, the storage CRS).
    metric_crs : str, optional
        CRS in which to simplify; the layer's estimated UTM zone when None.
    simplify_m : float
        Tolerance in metres; 0 disables simplification.
    precision : int
        Decimal places of the output coordinates.

    Returns
    -------
    GeoDataFrame in EPSG:4326.
    """
    gdf = gdf.drop(columns=[c for c in PERSONAL_COLUMNS if c in gdf.columns])
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4490")
    if gdf.empty:
        return gdf.to_crs(WEB_CRS)
    geom_types = set(gdf.geom_type.dropna())
    if simplify_m > 0 and geom_types - {"Point", "MultiPoint"}:
        if metric_crs is None:
            metric_crs = gdf.estimate_utm_crs() if not gdf.crs.is_projected else gdf.crs
        m = gdf.to_crs(metric_crs)
        simp = m.geometry.simplify(simplify_m, preserve_topology=True)
        m = m.set_geometry(simp)
        gdf = m.to_crs(WEB_CRS)
    else:
        gdf = gdf.to_crs(WEB_CRS)
    rounded = shapely.transform(
        gdf.geometry.values, lambda c: np.round(c, precision), include_z=False
    )
    return gdf.set_geometry(gpd.GeoSeries(rounded, index=gdf.index, crs=WEB_CRS))


def json_value(v: Any) -> Any:
    """A JSON-safe scalar: NA/NaN → None, numpy scalars → Python scalars."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v
