"""A province (or prefecture) for the dashboard: county and township figures and shapes.

``anju province run MANIFEST --out OUT`` writes one plan per county in ``OUT/<adcode>/`` and
the roll-ups in ``OUT/province/`` (``counties.csv``, ``townships.csv``, ``province.gpkg``
with layers ``counties`` and ``townships``, ``run.json``). :func:`load_province` reads that
folder; when the roll-ups are not there (a folder of plans made by ``anju batch``, or a run
still going) it computes the same figures from each county's plan (:func:`rollup_county`).

Everything is aggregated on the server: the browser receives the county polygons (tens,
simplified for the province's zoom) and, on drill-down, the townships of one county
(:meth:`Province.township_geojson`), never the villages of the province. A figure that is
blank in the roll-ups (a failed county, an indicator the profile does not assess) stays
``None`` here and is drawn as *unknown*, never as 0 (DESIGN.md: missing is never met).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from dashboard.plan import WEB_CRS, json_value, prepare_layer
from layers.catalogue import ROLLUP_FIGURES
from layers.errors import AnjuError, LayerNotFoundError, LayerSchemaError
from layers.plan import open_plan

#: The roll-ups' folder inside a province output folder.
ROLLUP_DIR = "province"
#: A village without a township (as the roll-ups name it).
NO_TOWNSHIP = "（未定）"

#: Township and county figures (then blocked_by_<indicator>): the catalogue's.
FIGURES = ROLLUP_FIGURES
#: Figures only this module computes from the villages (people, not villages, without them).
PEOPLE_FIGURES = ("water_gap_people", "clinic_gap_people")

#: The choropleth's metrics: key → (column, higher is better). ``ready_frac`` is computed.
METRICS: dict[str, tuple[str, bool]] = {
    "ready_frac": ("ready_frac", True),
    "blocked": ("blocked", False),
    "km_to_harden": ("km_to_harden", False),
    "water_gap_people": ("water_gap_people", False),
    "clinic_gap_people": ("clinic_gap_people", False),
    "water_gap": ("water_gap", False),
    "clinic_gap": ("clinic_gap", False),
    "people_to_relocate": ("people_to_relocate", False),
    "sites_opened": ("sites_opened", False),
}
#: Sequential colour ramps (ColorBrewer, colour-blind safe): YlOrRd where more is worse,
#: YlGnBu where more is better; unknown is a neutral grey drawn with a dashed outline.
RAMP_BAD = ("#FFFFB2", "#FECC5C", "#FD8D3C", "#F03B20", "#BD0026")
RAMP_GOOD = ("#FFFFCC", "#A1DAB4", "#41B6C4", "#2C7FB8", "#253494")
UNKNOWN_COLOR = "#BDBDBD"
#: The share ready to exit of a county or township with no registered poverty village to
#: assess: not unknown (nothing is missing), and no class either.
NONE_ASSESSED_COLOR = "#FFFFFF"
#: Simplification (m) of the county polygons (a province at zoom 7–9) and of one county's
#: townships (zoom 9–11); about a pixel at those zooms.
COUNTY_SIMPLIFY_M = 250.0
TOWNSHIP_SIMPLIFY_M = 50.0
PRECISION = 5


@dataclass
class Province:
    """A province output folder, read for the dashboard.

    Attributes
    ----------
    root : Path
        The ``--out`` folder of ``anju province run`` (or a folder of county plans).
    name : str
        Province (or prefecture) name.
    counties : DataFrame
        One row per county: ``adcode``, ``county``, ``status`` (``ok``, ``failed``, ``not
        recorded``, ``no plan``), :data:`FIGURES`, ``ready_frac`` and, when known,
        :data:`PEOPLE_FIGURES`; blank (NA) where unknown.
    townships : DataFrame
        One row per township: ``adcode``, ``county``, ``township`` and the same figures.
    source : str
        ``"rollup"`` (read from ``OUT/province``) or ``"plans"`` (computed from the plans).
    """

    root: Path
    name: str
    counties: pd.DataFrame
    townships: pd.DataFrame
    source: str
    _county_shapes: gpd.GeoDataFrame | None = field(default=None, repr=False)
    _township_shapes: gpd.GeoDataFrame | None = field(default=None, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def memo(self, key: Any, fn):
        """``fn()`` computed once per province and ``key``."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = fn()
            return self._memo[key]

    @property
    def adcodes(self) -> list[str]:
        """The counties' codes, in the manifest's order."""
        return [str(a) for a in self.counties["adcode"]]

    def plan_dir(self, adcode: str) -> Path | None:
        """The plan folder of county ``adcode``; None when it is not a county of this
        province or has no plan (a failed county)."""
        if adcode not in self.adcodes:
            return None
        p = self.root / adcode
        return p if (p / "plan.gpkg").is_file() else None

    def county_name(self, adcode: str) -> str | None:
        """The name of county ``adcode`` (None when unknown)."""
        row = self.counties[self.counties["adcode"] == adcode]
        return None if row.empty else str(row["county"].iloc[0])

    def default_county(self) -> str | None:
        """The first county that has a plan."""
        return next((a for a in self.adcodes if self.plan_dir(a) is not None), None)

    @property
    def metrics(self) -> list[str]:
        """The metrics some county has a column for (a missing column is no metric)."""
        return [k for k, (col, _) in METRICS.items() if col in self.counties.columns]

    def county_shapes(self) -> gpd.GeoDataFrame:
        """County polygons (``adcode``, EPSG:4326, simplified at :data:`COUNTY_SIMPLIFY_M`,
        coordinates rounded to :data:`PRECISION` decimals)."""
        return self.memo("county_shapes", lambda: _web(self._county_shapes, COUNTY_SIMPLIFY_M))

    def township_shapes(self, adcode: str) -> gpd.GeoDataFrame:
        """The township polygons of county ``adcode`` (``township``), simplified at
        :data:`TOWNSHIP_SIMPLIFY_M` and rounded."""

        def build() -> gpd.GeoDataFrame:
            ts = self._township_shapes
            if ts is None or ts.empty:
                return _empty()
            return _web(ts[ts["adcode"] == adcode], TOWNSHIP_SIMPLIFY_M)

        return self.memo(("township_shapes", adcode), build)

    @property
    def bounds(self) -> list[list[float]]:
        """``[[south, west], [north, east]]`` of the counties."""

        def build() -> list[list[float]]:
            shapes = self.county_shapes()
            if shapes.empty:
                return [[18.0, 73.0], [54.0, 135.0]]  # China, when no county has a shape
            minx, miny, maxx, maxy = shapes.total_bounds
            return [[float(miny), float(minx)], [float(maxy), float(maxx)]]

        return self.memo("bounds", build)

    def county_bounds(self, adcode: str) -> list[list[float]] | None:
        """Bounds of one county (None without a shape)."""
        s = self.county_shapes()
        s = s[s["adcode"] == adcode]
        if s.empty:
            return None
        minx, miny, maxx, maxy = s.total_bounds
        return [[float(miny), float(minx)], [float(maxy), float(maxx)]]

    def county_geojson(self) -> dict[str, Any]:
        """The county polygons with their figures and, per metric, their class colour
        (``colors``): the whole province map's payload."""
        return self.memo(
            "county_geojson",
            lambda: _choropleth(
                self.county_shapes(), self.counties, ["adcode"], self.metrics, label="county"
            ),
        )

    def township_geojson(self, adcode: str) -> dict[str, Any]:
        """The township polygons of one county with their figures and class colours (classed
        among that county's townships): the drill-down payload."""

        def build() -> dict[str, Any]:
            rows = self.townships[self.townships["adcode"] == adcode]
            shapes = self.township_shapes(adcode)
            return _choropleth(
                shapes, rows, ["township"], self.metrics, label="township", adcode=adcode
            )

        return self.memo(("township_geojson", adcode), build)

    def legend(self, metric: str, *, level: str = "county", adcode: str | None = None) -> dict:
        """The classes of ``metric`` among the counties (or one county's townships):
        ``{"bins": [(lo, hi, colour, n), ...], "unknown": n, "color": UNKNOWN_COLOR}``."""
        rows = self.counties if level == "county" else self.township_rows(adcode or "")
        return self.memo(("legend", level, adcode, metric), lambda: classes(rows, metric)[1])

    def township_rows(self, adcode: str) -> pd.DataFrame:
        """The township figures of one county."""
        return self.townships[self.townships["adcode"] == adcode].reset_index(drop=True)


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"geometry": gpd.GeoSeries([], crs=WEB_CRS)}, crs=WEB_CRS)


def _web(gdf: gpd.GeoDataFrame | None, simplify_m: float) -> gpd.GeoDataFrame:
    if gdf is None or gdf.empty:
        return _empty()
    g = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if g.empty:
        return _empty()
    metric = g.estimate_utm_crs()
    return prepare_layer(g, metric_crs=metric, simplify_m=simplify_m, precision=PRECISION)


# ------------------------------------------------------------------------------- classes


def metric_values(rows: pd.DataFrame, metric: str) -> pd.Series:
    """The values of ``metric`` (float, NaN = unknown) for the rows."""
    col = METRICS[metric][0]
    if col not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype=float)
    return pd.to_numeric(rows[col], errors="coerce").astype(float)


def classes(rows: pd.DataFrame, metric: str, k: int = 5) -> tuple[list[str | None], dict]:
    """Class colours of the rows for ``metric`` and the legend.

    Known values are split into at most ``k`` classes at their quantiles (fewer when fewer
    distinct values); an unknown value gets no colour (None: drawn as unknown).

    Returns
    -------
    (colors, legend)
        ``colors[i]`` for row ``i``; ``legend`` = ``{"bins": [[lo, hi, colour, n], ...],
        "unknown": n, "none_assessed": n, "color": UNKNOWN_COLOR, "good": bool}``
        (``none_assessed``: the share ready of a row with no village to assess, drawn
        :data:`NONE_ASSESSED_COLOR`, neither unknown nor a class).
    """
    vals = metric_values(rows, metric).to_numpy()
    none = np.zeros(len(vals), bool)
    if metric == "ready_frac" and "villages_assessed" in rows.columns:
        none = pd.to_numeric(rows["villages_assessed"], errors="coerce").eq(0).to_numpy()
    known = vals[~np.isnan(vals)]
    good = METRICS[metric][1]
    ramp = RAMP_GOOD if good else RAMP_BAD
    colors: list[str | None] = [None] * len(vals)
    bins: list[list[Any]] = []
    if known.size:
        distinct = np.unique(known)
        if distinct.size <= k:
            edges = [(float(x), float(x)) for x in distinct]
        else:
            q = np.unique(np.quantile(known, np.linspace(0, 1, k + 1)))
            edges = [(float(q[i]), float(q[i + 1])) for i in range(len(q) - 1)]
        n = len(edges)
        pick = [ramp[round(i * (len(ramp) - 1) / max(1, n - 1))] for i in range(n)]
        counts = [0] * n
        for i, x in enumerate(vals):
            if math.isnan(x):
                continue
            j = next(j for j, (lo, hi) in enumerate(edges) if x <= hi or j == n - 1)
            colors[i] = pick[j]
            counts[j] += 1
        bins = [[lo, hi, c, m] for (lo, hi), c, m in zip(edges, pick, counts, strict=True)]
    for i in np.flatnonzero(none):
        colors[i] = NONE_ASSESSED_COLOR
    legend = {
        "bins": bins,
        "unknown": int((np.isnan(vals) & ~none).sum()),
        "none_assessed": int(none.sum()),
        "color": UNKNOWN_COLOR,
        "good": good,
    }
    return colors, legend


def _choropleth(
    shapes: gpd.GeoDataFrame,
    rows: pd.DataFrame,
    on: list[str],
    metrics: Iterable[str],
    *,
    label: str,
    adcode: str | None = None,
) -> dict[str, Any]:
    """GeoJSON of ``shapes`` joined to ``rows`` on ``on``: the figures as properties (null
    where unknown) and ``colors`` {metric: class colour or null}."""
    if shapes.empty or rows.empty:
        return {"type": "FeatureCollection", "features": []}
    rows = rows.reset_index(drop=True)
    colors = {m: classes(rows, m)[0] for m in metrics}
    keys = [tuple(str(r[c]) for c in on) for _, r in rows.iterrows()]
    where = {k: i for i, k in enumerate(keys)}
    figs = [c for c in (*FIGURES, *PEOPLE_FIGURES, "ready_frac") if c in rows.columns]
    features = []
    for geom, key in zip(
        shapes.geometry.values, shapes[on].astype(str).itertuples(index=False), strict=True
    ):
        i = where.get(tuple(key))
        if i is None or geom is None or geom.is_empty:
            continue
        r = rows.iloc[i]
        props: dict[str, Any] = {
            "adcode": str(r["adcode"]) if "adcode" in r else adcode,
            "name": str(r[label]),
            "label": str(r[label]),
            "colors": {m: colors[m][i] for m in colors},
        }
        if label == "township":
            props["township"] = str(r["township"])
        for c in figs:
            props[c] = json_value(r[c])
        features.append(
            {"type": "Feature", "geometry": geom.__geo_interface__, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}


# ------------------------------------------------------------------------------- roll-ups


def _flag(s: Any) -> pd.Series:
    """True where the value is true; unknown is not true (a blank never passes)."""
    return pd.Series(s).astype("boolean").fillna(False).astype(bool)


def _layer(plan: Any, name: str) -> gpd.GeoDataFrame | None:
    return plan.read_layer(name) if name in plan.layer_names else None


def rollup_county(plan_dir: str | Path) -> tuple[pd.DataFrame, gpd.GeoDataFrame | None, Any]:
    """Township figures of one county plan, computed from its layers.

    The same definitions as the province roll-ups (``scripts/province.py`` ``rollup_plan``):
    ``ready``/``unconfirmed``/``blocked_*``/``unknown`` count assessed villages by
    ``blocker_class``; ``water_gap``/``clinic_gap`` villages whose indicator is ``not_met``
    (``*_unknown`` unknown); ``km_*`` sum ``road_gaps``; ``people_to_relocate*`` the eligible
    candidates' ``people_to_move*``; ``people_placed`` the ``allocation``; ``sites_opened``
    the opened sites. Plus :data:`PEOPLE_FIGURES`: the population (hamlets excluded: their
    administrative village counts them) of villages whose water / clinic is not met.
    A figure the plan cannot give (no such indicator column) is NA, never 0.

    Parameters
    ----------
    plan_dir
        A county plan directory.

    Returns
    -------
    (DataFrame, GeoDataFrame or None, GeoDataFrame or None)
        Township figures (``township`` + figures), township polygons (``township``,
        EPSG:4490, dissolved by name) and the county polygon (the boundary's union, else the
        townships' union).

    Raises
    ------
    LayerNotFoundError, LayerSchemaError
        When the plan cannot be read.
    """
    plan = open_plan(plan_dir)
    v = plan.read_layer("villages")
    tw = v["township"].astype(object).where(v["township"].notna(), NO_TOWNSHIP)
    bc = v["blocker_class"].astype(object) if "blocker_class" in v.columns else None
    n = len(v)

    def count(mask: Any) -> np.ndarray:
        return np.asarray(mask, dtype=int)

    def status(col: str, value: str) -> Any:
        if col not in v.columns:
            return pd.array([pd.NA] * n, dtype="Int64")
        return count(v[col].astype(object) == value)

    pop = pd.to_numeric(v.get("population"), errors="coerce")
    hamlet = (
        v["level"].astype(object).eq("hamlet").to_numpy()
        if "level" in v.columns
        else np.zeros(n, bool)
    )

    def people(col: str) -> Any:
        if col not in v.columns or pop is None:
            return pd.array([pd.NA] * n, dtype="Float64")
        not_met = (v[col].astype(object) == "not_met").to_numpy() & ~hamlet
        # a village not met with an unknown population makes the sum unknown
        return pd.array(np.where(not_met, pop.to_numpy(float), 0.0), dtype="Float64")

    def by_class(value: str) -> Any:
        if bc is None:
            return pd.array([pd.NA] * n, dtype="Int64")
        return count(bc == value)

    frame = pd.DataFrame(
        {
            "township": tw.to_numpy(),
            "villages": 1,
            "villages_assessed": count(_flag(v["exit_applicable"]))
            if "exit_applicable" in v.columns
            else pd.array([pd.NA] * n, dtype="Int64"),
            "ready": by_class("ready"),
            "unconfirmed": by_class("unconfirmed"),
            "blocked_one": by_class("blocked_one"),
            "blocked_several": by_class("blocked_several"),
            "unknown": by_class("unknown"),
            "water_gap": status("water_status", "not_met"),
            "water_unknown": status("water_status", "unknown"),
            "clinic_gap": status("clinic_status", "not_met"),
            "clinic_unknown": status("clinic_status", "unknown"),
            "water_gap_people": people("water_status"),
            "clinic_gap_people": people("clinic_status"),
        }
    )
    frame["blocked"] = frame["blocked_one"] + frame["blocked_several"]
    town = frame.groupby("township", sort=True).sum(min_count=1)
    of_village = dict(zip(v["village_id"].astype(str), tw, strict=True))

    def by_township(layer: str, value: str, key: str, mask: str | None = None) -> pd.Series:
        g = _layer(plan, layer)
        if g is None or not len(g) or value not in g.columns:
            return pd.Series(dtype=float)
        if key == "village":
            keys = g["village_id"].astype(str).map(of_village).fillna(NO_TOWNSHIP)
        else:
            keys = g["township"].astype(object).where(g["township"].notna(), NO_TOWNSHIP)
        vals = pd.to_numeric(g[value], errors="coerce").fillna(0.0)
        if mask is not None:
            vals = vals.where(_flag(g[mask]).to_numpy(), 0.0)
        return vals.groupby(keys.to_numpy()).sum()

    extra = {
        "km_to_harden": by_township("road_gaps", "known_unhardened_km", "own"),
        "km_unknown_surface": by_township("road_gaps", "unknown_surface_km", "own"),
        "people_to_relocate": by_township(
            "relocation_candidates", "people_to_move", "own", "eligible"
        ),
        "people_to_relocate_poor": by_township(
            "relocation_candidates", "people_to_move_poor", "own", "eligible"
        ),
        "people_placed": by_township("allocation", "people", "village"),
        "sites_opened": by_township("sites", "opened", "own", "opened"),
    }
    for k, s in extra.items():
        # a township holding a gap or a site but no village: its village counts are 0
        town = town.reindex(town.index.union(s.index), fill_value=0)
        town[k] = s.reindex(town.index, fill_value=0.0)
    town["people_unplaced"] = town["people_to_relocate"] - town["people_placed"]
    for k in (*FIGURES, *PEOPLE_FIGURES):
        if k.startswith("km_"):
            town[k] = town[k].astype(float).round(3)
        else:
            town[k] = pd.to_numeric(town[k]).round().astype("Int64")
    town = town[[*FIGURES, *PEOPLE_FIGURES]].rename_axis("township").reset_index()
    shapes = None
    t = _layer(plan, "townships")
    if t is not None and "name" in t.columns and len(t):
        shapes = gpd.GeoDataFrame(
            t[["name", "geometry"]].rename(columns={"name": "township"}),
            geometry="geometry",
            crs=t.crs,
        ).dissolve(by="township", as_index=False)
    b = _layer(plan, "boundary")
    if b is not None and len(b):
        county = gpd.GeoSeries([b.geometry.union_all()], crs=b.crs)
    elif shapes is not None:
        county = gpd.GeoSeries([shapes.geometry.union_all()], crs=shapes.crs)
    else:
        county = None
    return town, shapes, county


def _sum(rows: pd.DataFrame, cols: Iterable[str]) -> dict[str, Any]:
    """Column sums with ``min_count=1``: an all-blank column stays blank (unknown)."""
    return {c: rows[c].sum(min_count=1) for c in cols if c in rows.columns}


def _ready_frac(frame: pd.DataFrame) -> pd.Series:
    ready = pd.to_numeric(frame.get("ready"), errors="coerce").astype(float)
    assessed = pd.to_numeric(frame.get("villages_assessed"), errors="coerce").astype(float)
    frac = (ready / assessed.where(assessed > 0)).round(4)
    return frac.astype(float)


def _county_list(root: Path) -> list[dict[str, str]]:
    """``[{adcode, county, status}]``: from ``run.json`` when present, else every sub-folder
    holding a ``plan.gpkg`` (named by its manifest's workspace name)."""
    run = root / ROLLUP_DIR / "run.json"
    if run.is_file():
        try:
            info = json.loads(run.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LayerSchemaError(
                f"{run}: expected the province run's JSON, found: {exc}"
            ) from exc
        return [
            {
                "adcode": str(c["adcode"]),
                "county": str(c.get("name") or c["adcode"]),
                "status": str(c.get("status") or "ok"),
            }
            for c in info.get("counties") or []
        ]
    out = []
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if not (p / "plan.gpkg").is_file():
            continue
        name = p.name
        man = p / "manifest.json"
        if man.is_file():
            try:
                ws = json.loads(man.read_text(encoding="utf-8")).get("workspace") or {}
                name = str(ws.get("name") or name)
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass  # the plan's own reader reports it when the county is opened
        out.append({"adcode": p.name, "county": name, "status": "ok"})
    return out


def _province_name(root: Path) -> str:
    run = root / ROLLUP_DIR / "run.json"
    if run.is_file():
        try:
            info = json.loads(run.read_text(encoding="utf-8"))
            return str((info.get("province") or {}).get("name") or root.name)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return root.name
    return root.resolve().name


def has_rollups(root: Path | str) -> bool:
    """Whether ``root/province`` holds the roll-up tables."""
    d = Path(root) / ROLLUP_DIR
    return (d / "counties.csv").is_file() and (d / "townships.csv").is_file()


def _stamp(root: Path) -> int:
    """Changes whenever a roll-up file or a county plan is rewritten."""
    s = 0
    d = root / ROLLUP_DIR
    for name in ("counties.csv", "townships.csv", "province.gpkg", "run.json"):
        if (d / name).is_file():
            s += (d / name).stat().st_mtime_ns
    if root.is_dir():
        for p in root.iterdir():
            g = p / "plan.gpkg"
            if g.is_file():
                s += g.stat().st_mtime_ns
    return s


def load_province(root: Path | str) -> Province:
    """Read a province output folder (cached until a roll-up or a plan changes).

    Parameters
    ----------
    root
        The ``--out`` folder of ``anju province run`` (``<adcode>/`` plans and
        ``province/`` roll-ups), or a folder of county plans (``anju batch``).

    Returns
    -------
    Province

    Raises
    ------
    LayerNotFoundError
        When the folder holds neither roll-ups nor county plans.
    LayerSchemaError
        When a roll-up file cannot be read.
    """
    root = Path(root).resolve()
    return _load_cached(str(root), _stamp(root))


@lru_cache(maxsize=2)
def _load_cached(root_s: str, stamp: int) -> Province:
    root = Path(root_s)
    counties = _county_list(root)
    if not counties:
        raise LayerNotFoundError(
            f"province folder {root}: expected county plans (<adcode>/plan.gpkg) and roll-ups "
            f"({ROLLUP_DIR}/counties.csv) written by `anju province run MANIFEST --out {root}`, "
            "found neither"
        )
    if has_rollups(root):
        return _from_rollups(root, counties)
    return _from_plans(root, counties)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8-sig", dtype={"adcode": str, "township": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LayerSchemaError(f"{path}: expected the province roll-up CSV, found: {exc}") from exc
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _read_shapes(gpkg: Path, layer: str, columns: list[str]) -> gpd.GeoDataFrame | None:
    if not gpkg.is_file():
        return None
    try:
        if layer not in {row[0] for row in pyogrio.list_layers(gpkg)}:
            return None
        return pyogrio.read_dataframe(gpkg, layer=layer, columns=columns)
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise LayerSchemaError(f"{gpkg}, layer {layer}: unreadable: {exc}") from exc


def _from_rollups(root: Path, listed: list[dict[str, str]]) -> Province:
    d = root / ROLLUP_DIR
    counties = _read_csv(d / "counties.csv")
    towns = _read_csv(d / "townships.csv")
    if "adcode" not in counties.columns:
        raise LayerSchemaError(f"{d / 'counties.csv'}: expected a column 'adcode', found none")
    if "ready_frac" not in counties.columns:
        counties["ready_frac"] = _ready_frac(counties)
    if len(towns):
        towns["ready_frac"] = _ready_frac(towns)
        towns["township"] = towns["township"].fillna(NO_TOWNSHIP)
    else:
        towns = pd.DataFrame(columns=["adcode", "county", "township", *FIGURES, "ready_frac"])
    c_shapes = _read_shapes(d / "province.gpkg", "counties", ["adcode"])
    t_shapes = _read_shapes(d / "province.gpkg", "townships", ["adcode", "township"])
    return Province(
        root=root,
        name=_province_name(root),
        counties=counties.reset_index(drop=True),
        townships=towns.reset_index(drop=True),
        source="rollup",
        _county_shapes=c_shapes,
        _township_shapes=t_shapes,
    )


def _from_plans(root: Path, listed: list[dict[str, str]]) -> Province:
    county_rows, towns, c_shapes, t_shapes = [], [], [], []
    for c in listed:
        plan_dir = root / c["adcode"]
        head = dict(c)
        if c["status"] == "failed" or not (plan_dir / "plan.gpkg").is_file():
            head["status"] = c["status"] if c["status"] == "failed" else "no plan"
            county_rows.append(head)
            continue
        try:
            town, shapes, county = rollup_county(plan_dir)
        except AnjuError:
            head["status"] = "unreadable"
            county_rows.append(head)
            continue
        town.insert(0, "county", c["county"])
        town.insert(0, "adcode", c["adcode"])
        towns.append(town)
        county_rows.append({**head, **_sum(town, (*FIGURES, *PEOPLE_FIGURES))})
        if county is not None:
            c_shapes.append(gpd.GeoDataFrame({"adcode": [c["adcode"]]}, geometry=county))
        if shapes is not None:
            t_shapes.append(shapes.assign(adcode=c["adcode"]))
    counties = pd.DataFrame(county_rows)
    for col in (*FIGURES, *PEOPLE_FIGURES):
        if col not in counties.columns:
            counties[col] = pd.NA
        if not col.startswith("km_"):
            counties[col] = pd.to_numeric(counties[col]).astype("Int64")
        else:
            counties[col] = pd.to_numeric(counties[col]).astype(float)
    counties["ready_frac"] = _ready_frac(counties)
    by_town = (
        pd.concat(towns, ignore_index=True)
        if towns
        else pd.DataFrame(columns=["adcode", "county", "township", *FIGURES, *PEOPLE_FIGURES])
    )
    by_town["ready_frac"] = _ready_frac(by_town)
    return Province(
        root=root,
        name=_province_name(root),
        counties=counties,
        townships=by_town,
        source="plans",
        _county_shapes=_concat(c_shapes),
        _township_shapes=_concat(t_shapes),
    )


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame | None:
    """One GeoDataFrame in EPSG:4490 from per-county frames (each in its own CRS)."""
    if not frames:
        return None
    parts = [f.set_crs("EPSG:4490") if f.crs is None else f.to_crs("EPSG:4490") for f in frames]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4490")


# ------------------------------------------------------------------------------- prefetch

_PREFETCH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anju-county")
_PENDING: dict[str, Future] = {}


def prefetch_plan(plan_dir: Path, load: Any) -> Future:
    """Load a county's plan in the background (one at a time: 2 cores are shared), so that
    opening its village map after choosing it on the province map finds it cached.

    ``load(plan_dir)`` does the work (the dashboard's plan loader and its first memos).
    """
    key = str(plan_dir)
    fut = _PENDING.get(key)
    if fut is None or fut.done():
        fut = _PREFETCH.submit(load, plan_dir)
        _PENDING[key] = fut
    return fut
