"""The plan contract: what ``anju run`` writes, and the only writer and reader of it.

A plan directory holds::

    plan.gpkg            vector layers in EPSG:4490 (:data:`PLAN_LAYERS`)
    rasters/<name>.tif   rasters on the analysis grid, in the metric CRS (:data:`PLAN_RASTERS`)
    tables/<name>.csv    bureau tables (UTF-8 with BOM) and .xlsx (a 中文 and an en sheet)
    indicators.json      the policy profile's indicators as evaluated
    manifest.json        inputs and checksums, settings, stage timings, warnings, summary

The pipeline writes a plan through :func:`write_plan` (atomically: a failed run never
leaves half a plan); the dashboard, scenarios and tests read one through
:func:`open_plan`. Both check layers against the declarations here
(:func:`check_layer`), so a column the dashboard relies on cannot silently disappear.
A PostGIS backend will implement the same reader and writer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling

from layers.catalogue import PERSONAL_COLUMNS, TRAVEL_KINDS
from layers.crs import STORAGE_CRS, to_storage
from layers.errors import AnjuError, LayerNotFoundError, LayerSchemaError
from layers.grid import Grid
from layers.settings import Settings, settings_from_dict

__all__ = [
    "PLAN_FORMAT",
    "PLAN_LAYERS",
    "PLAN_RASTERS",
    "PLAN_TABLES",
    "ROAD_SURFACE_STATES",
    "SITE_PROGRESS_COLUMNS",
    "TIMETABLE_COLUMNS",
    "EarlyRasters",
    "LayerDecl",
    "PlanOutput",
    "StoredPlan",
    "check_layer",
    "clean_stale_siblings",
    "decode_road_surface",
    "open_plan",
    "plan_gpkg",
    "write_plan",
]


#: Version of the plan's layout; a reader refuses (and ``python app.py`` rebuilds) a plan
#: of another version. 2: settings recorded in the manifest (``settings``); 3: DEM inputs
#: (tiles, resolution, coverage) and the DEM parameters of the settings. Format 3 also
#: covers the exit timetable and the sites followed through (optional columns of
#: ``villages`` and ``sites``, tables ``timetable``, ``at_risk``, ``monitoring``,
#: ``site_progress``): they are additions a reader finds or not (:attr:`LayerDecl.optional`),
#: so a format-3 plan written before them still opens and reads as "not assessed".
PLAN_FORMAT = 3


@dataclass(frozen=True)
class LayerDecl:
    """One layer of ``plan.gpkg``: allowed geometry types and the columns readers rely on.

    ``columns`` maps a column name to its kind: ``text``, ``int``, ``float`` (int or
    float), ``bool`` (True/False/NULL = unknown) or ``any``. Other columns may follow
    (indicator columns, measured values); the declared ones must be there.
    ``optional`` declares columns the same way that a plan may lack (added after plans
    were first written: a reader treats a missing one as "not assessed"); when present
    they must be of their kind. A nullable whole number (a year) is declared ``float``:
    the GeoPackage reads an integer column with NULLs back as floats.
    """

    name: str
    geometry: tuple[str, ...]
    columns: Mapping[str, str] = field(default_factory=dict)
    required: bool = False
    desc: str = ""
    optional: Mapping[str, str] = field(default_factory=dict)


def _d(
    layer: str,
    geometry: tuple[str, ...],
    desc: str,
    required: bool = False,
    optional: Mapping[str, str] | None = None,
    **cols: str,
) -> LayerDecl:
    return LayerDecl(layer, geometry, dict(cols), required, desc, dict(optional or {}))


#: Columns of the exit timetable on the ``villages`` layer (geo.timetable).
TIMETABLE_COLUMNS: dict[str, str] = {
    "planned_exit_year": "float",
    "exit_year": "float",
    "exited": "bool",
    "due": "bool",
    "overdue_years": "float",
    "timetable_status": "text",
}
#: Columns of a site followed through on the ``sites`` layer (geo.site_progress).
SITE_PROGRESS_COLUMNS: dict[str, str] = {
    "stage": "text",
    "stage_date": "text",
    "years_in_stage": "float",
    "planned_households": "float",
    "planned_people": "float",
    "actual_households": "float",
    "actual_people": "float",
    "occupancy_households_frac": "float",
    "occupancy_people_frac": "float",
    "people_basis": "float",
    "people_basis_kind": "text",
    "school_min": "float",
    "school_ok": "bool",
    "health_min": "float",
    "health_ok": "bool",
    "jobs_in_reach": "float",
    "jobs_in_reach_per_person": "float",
    "jobs_found": "float",
    "jobs_found_frac": "float",
    "land_rights_kept": "bool",
    "return_min_mean": "float",
    "return_min_max": "float",
    "followup_gaps": "text",
}


_PT, _LN, _PG = (
    ("Point", "MultiPoint"),
    ("LineString", "MultiLineString"),
    ("Polygon", "MultiPolygon"),
)

#: The vector layers of ``plan.gpkg``; only ``villages`` is required.
PLAN_LAYERS: dict[str, LayerDecl] = {
    d.name: d
    for d in (
        _d(
            "villages",
            _PT + _PG,
            "one row per village: measured values, one column per indicator, exit readiness",
            required=True,
            village_id="text",
            name="text",
            township="text",
            population="float",
            road_access="text",
            unhardened_km="float",
            unknown_surface_km="float",
            connection_km="float",
            road_evidence="text",
            exit_applicable="bool",
            exit_ready="bool",
            unmet="any",
            blocker_class="text",
            eligible="bool",
            reloc_score="float",
            site_id="any",
            optional=TIMETABLE_COLUMNS,
        ),
        _d(
            "road_gaps",
            _LN,
            "unhardened road segments on the way into villages, ranked by people per km",
            gap_id="text",
            kind="text",
            township="text",
            length_km="float",
            known_unhardened_km="float",
            unknown_surface_km="float",
            people_served="float",
            people_per_km="float",
            rank="int",
        ),
        _d(
            "relocation_candidates",
            _PT + _PG,
            "every village with its relocation screening",
            village_id="text",
            eligible="bool",
            score="float",
            rank="float",
            reasons_zh="any",
            reasons_en="any",
            people_to_move="float",
        ),
        _d(
            "sites",
            _PG,
            "candidate and planner resettlement sites",
            site_id="text",
            name="text",
            capacity_people="int",
            suitability="float",
            source="text",
            locked="bool",
            robustness_frac="float",
            assigned_people="int",
            opened="bool",
            optional=SITE_PROGRESS_COLUMNS,
        ),
        _d("site_points", _PT, "the sites as points (labels)", site_id="text", name="text"),
        _d(
            "allocation",
            _LN,
            "who goes where: village → site",
            village_id="text",
            site_id="text",
            people="float",
            travel_min="float",
        ),
        _d("unplaced", (), "villages the allocation could not place, with the reason"),
        _d("boundary", _PG, "the county"),
        _d("townships", _PG, "township polygons", name="text"),
        _d("roads", _LN, "roads with surface state", road_class="text", hardened="text"),
        _d("clinics", _PT, "village clinics and health centres", clinic_id="text", level="text"),
        _d("schools", _PT, "schools", school_id="text"),
        _d(
            "towns",
            _PT,
            "county seat, township seats, industrial parks",
            town_id="text",
            kind="text",
        ),
        _d(
            "water",
            _PT + _LN + _PG,
            "water sources, plants, networks, service areas, bodies",
            kind="text",
        ),
        _d("hazards", _PT + _PG, "hazard points and zones", kind="text"),
        _d("protected", _PG, "protected land", kind="text"),
    )
}

#: Rasters of ``rasters/``: name → the largest error LERC may add (None = lossless).
PLAN_RASTERS: dict[str, float | None] = {
    "dem": None,
    "slope_deg": None,
    **{f"travel_min_{k}": 0.05 for k in TRAVEL_KINDS},
    "suitability": 0.0005,
}

#: Tables of ``tables/`` the pipeline writes (``households`` and ``monitoring`` only with
#: a household layer). ``timetable`` (one row per year), ``at_risk`` (villages due and not
#: ready), ``monitoring`` (households returned to poverty or near the income line: ids and
#: village only) and ``site_progress`` (sites followed through) are absent from plans
#: written before them.
PLAN_TABLES: tuple[str, ...] = (
    "transport_townships",
    "water_villages",
    "water_townships",
    "health_villages",
    "health_townships",
    "leaders_townships",
    "transport_villages",
    "road_gaps",
    "relocation_candidates",
    "sites",
    "allocation",
    "unplaced",
    "households",
    "timetable",
    "at_risk",
    "monitoring",
    "site_progress",
)

#: How a road's nullable ``hardened`` is stored in the plan (text a person can read).
ROAD_SURFACE_STATES: dict[str, bool | None] = {
    "hardened": True,
    "unhardened": False,
    "unknown": None,
}

_KIND_OK = {
    "text": lambda s: s.dtype == object or pd.api.types.is_string_dtype(s) or s.isna().all(),
    "int": lambda s: pd.api.types.is_integer_dtype(s) or s.isna().all(),
    "float": lambda s: (
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) or s.isna().all()
    ),
    # a GeoPackage boolean with NULLs (unknown) reads back as 1.0 / 0.0 / NaN
    "bool": lambda s: (
        pd.api.types.is_bool_dtype(s)
        or (pd.api.types.is_float_dtype(s) and s.dropna().isin([0.0, 1.0]).all())
        or s.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all()
    ),
    "any": lambda s: True,
}


def check_layer(name: str, frame: pd.DataFrame) -> list[str]:
    """Problems of ``frame`` as plan layer ``name`` (empty when it follows the contract).

    Each problem names the layer, the column, what was expected and what was found.
    """
    decl = PLAN_LAYERS.get(name)
    if decl is None:
        return [f"plan layer {name!r}: not a plan layer; expected one of {', '.join(PLAN_LAYERS)}"]
    problems = []
    for col, kind in decl.columns.items():
        if col not in frame.columns:
            problems.append(f"plan layer {name!r}: missing column {col!r} ({kind})")
        elif not _KIND_OK[kind](frame[col]):
            problems.append(
                f"plan layer {name!r}, column {col!r}: expected {kind}, found dtype {frame[col].dtype}"
            )
    for col, kind in decl.optional.items():
        if col in frame.columns and not _KIND_OK[kind](frame[col]):
            problems.append(
                f"plan layer {name!r}, column {col!r}: expected {kind}, found dtype {frame[col].dtype}"
            )
    if decl.geometry and isinstance(frame, gpd.GeoDataFrame) and len(frame):
        found = set(frame.geom_type.dropna()) - set(decl.geometry)
        if found:
            problems.append(
                f"plan layer {name!r}: expected geometry {'/'.join(decl.geometry)}, found {', '.join(sorted(found))}"
            )
    return problems


def decode_road_surface(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Roads read from a plan with ``hardened`` back as a nullable boolean."""
    out = roads.copy()
    out["hardened"] = out["hardened"].map(ROAD_SURFACE_STATES).astype("boolean")
    return out


# --------------------------------------------------------------------------- writing


@dataclass
class PlanOutput:
    """Everything a plan directory holds, in memory, before writing.

    Attributes
    ----------
    grid : Grid
        The analysis grid (metric CRS) of every raster.
    layers : dict
        Plan layer name → GeoDataFrame (metric CRS) or DataFrame (``unplaced``).
    rasters : dict
        Raster name (a key of :data:`PLAN_RASTERS`) → 2-D array on ``grid``.
    tables : dict
        Table name → DataFrame (English headers).
    tables_zh : dict
        Table name → the same table with Chinese headers (the XLSX's 中文 sheet).
    indicators : dict
        The content of ``indicators.json``.
    manifest : dict
        ``manifest.json`` without ``outputs``, ``crs_storage`` and ``raster_max_error``,
        which the writer fills in.
    """

    grid: Grid
    layers: dict[str, pd.DataFrame]
    rasters: dict[str, np.ndarray]
    tables: dict[str, pd.DataFrame]
    tables_zh: dict[str, pd.DataFrame]
    indicators: dict[str, Any]
    manifest: dict[str, Any]


def _encode(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A layer as stored: a road's nullable ``hardened`` becomes readable text."""
    if name != "roads" or "hardened" not in frame.columns:
        return frame
    out = frame.copy()
    out["hardened"] = out["hardened"].map(_surface_text)
    return out


def _surface_text(h: Any) -> str:
    if isinstance(h, str) and h in ROAD_SURFACE_STATES:  # already in its stored form
        return h
    if h is None or h is pd.NA or (isinstance(h, float) and np.isnan(h)):
        return "unknown"
    if isinstance(h, bool | np.bool_):
        return "hardened" if h else "unhardened"
    raise LayerSchemaError(
        f"plan layer 'roads', column 'hardened': expected True/False/unknown, found {h!r}"
    )


def _write_raster(
    path: Path, arr: np.ndarray, grid: Grid, *, max_z_error: float | None = None
) -> None:
    """Tiled float32 GeoTIFF with overviews: lossless DEFLATE, or LERC within ``max_z_error``
    (a bounded error stated in the manifest; travel minutes to 0.05 min compress 3x better)."""
    # DEFLATE level 1: 2% larger than GDAL's default level 6 on slope, at 60% of the CPU
    comp: dict[str, Any] = {"compress": "deflate", "predictor": 3, "zlevel": 1}
    if max_z_error:
        comp = {"compress": "LERC_DEFLATE", "max_z_error": max_z_error, "zlevel": 1}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=grid.shape[1],
        height=grid.shape[0],
        count=1,
        dtype="float32",
        crs=grid.crs,
        transform=grid.transform,
        nodata=np.nan,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        # compression on every core (GDAL_NUM_THREADS, when set, says how many: batch workers)
        num_threads=os.environ.get("GDAL_NUM_THREADS", "ALL_CPUS"),
        **comp,
    ) as dst:
        dst.write(arr.astype("float32"), 1)
        # overviews let the dashboard's tile server read a county at low zoom without the full grid
        factors = [f for f in (2, 4, 8, 16) if min(grid.shape) // f >= 64]
        if factors:
            dst.build_overviews(factors, Resampling.average)
            dst.update_tags(ns="rio_overview", resampling="average")


def _joined(v: Any) -> Any:
    return ",".join(map(str, v)) if isinstance(v, list | tuple | set | np.ndarray) else v


def _plain_values(df: pd.DataFrame) -> pd.DataFrame:
    """Nullable booleans as True/False/None and lists as comma-joined text (CSV/XLSX-safe)."""
    g = df.copy()
    for c in g.columns:
        s = g[c]
        if str(s.dtype) == "boolean":
            g[c] = s.astype("object").where(s.notna(), None)
        elif s.dtype == object:
            g[c] = s.map(_joined)
    return g


def _gpkg_safe(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lists as comma-joined text; yes/no columns as GeoPackage booleans (NULL = unknown)."""
    g = gdf.copy()
    for c in g.columns:
        if c == g.geometry.name:
            continue
        s = g[c]
        if s.dtype == object:
            vals = s.dropna()
            if len(vals) and vals.map(lambda v: isinstance(v, bool | np.bool_)).all():
                g[c] = s.astype("boolean")
            else:
                g[c] = s.map(_joined)
    return g


#: Text starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: xlsxwriter options: text is written as text, never as a formula or a URL.
XLSX_TEXT_ONLY = {"options": {"strings_to_formulas": False, "strings_to_urls": False}}


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with text cells that a spreadsheet would run as a formula (``=cmd|...``,
    ``+``, ``-``, ``@``) prefixed with ``'``, so a name from the data stays text when the
    CSV is opened in Excel or WPS (numbers are untouched)."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            out[c] = col.map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    return out


def _write_table(
    df: pd.DataFrame, zh: pd.DataFrame | None, folder: Path, name: str, *, xlsx: bool = True
) -> list[str]:
    """One table as UTF-8-BOM CSV (Excel opens it) and, with ``xlsx``, an XLSX with a Chinese
    and an English sheet; text stays text (no formulas: :func:`spreadsheet_safe`,
    :data:`XLSX_TEXT_ONLY`)."""
    plain = _plain_values(
        pd.DataFrame(df.drop(columns=[c for c in ("geometry",) if c in df.columns]))
    )
    spreadsheet_safe(plain).to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig")
    if not xlsx:
        return [f"tables/{name}.csv"]
    zh_plain = (
        plain
        if zh is None
        else _plain_values(
            pd.DataFrame(zh.drop(columns=[c for c in ("geometry",) if c in zh.columns]))
        )
    )
    with pd.ExcelWriter(
        folder / f"{name}.xlsx", engine="xlsxwriter", engine_kwargs=XLSX_TEXT_ONLY
    ) as xw:
        zh_plain.to_excel(xw, sheet_name="中文", index=False)
        plain.to_excel(xw, sheet_name="en", index=False)
    return [f"tables/{name}.csv", f"tables/{name}.xlsx"]


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _is_personal(df: pd.DataFrame) -> bool:
    return any(c in df.columns for c in PERSONAL_COLUMNS)


def _private_table(
    df: pd.DataFrame, zh: pd.DataFrame | None, folder: Path, name: str, *, xlsx: bool = True
) -> list[str]:
    """A table with household names, ID numbers or phones: files created 0600 from the start."""
    for suffix in (".csv", ".xlsx") if xlsx else (".csv",):
        fd = os.open(folder / f"{name}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        os.chmod(folder / f"{name}{suffix}", 0o600)  # the mode of an existing file is kept
    return _write_table(df, zh, folder, name, xlsx=xlsx)


def _sibling_pattern(out: Path, kind: str) -> str:
    return f".{out.name}.{kind}-"


def _stale(path: Path, prefix: str) -> bool:
    """Whether a hidden ``.OUT.partial-<pid>-…`` / ``.OUT.old-<pid>…`` folder is a leftover.

    It is live only while the process whose id it carries runs *and* that process started
    before the folder was last touched (a reused id belongs to a younger process).
    """
    import psutil

    head = path.name[len(prefix) :].split("-", 1)[0]
    try:
        pid = int(head)
        mtime = path.lstat().st_mtime
    except (ValueError, OSError):
        return True
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return True
    return started > mtime + 1.0


def clean_stale_siblings(out: str | Path) -> list[Path]:
    """Remove hidden temporary and old folders left beside ``out`` by killed runs.

    Returns the folders removed. Folders of a run still going are kept.
    """
    out = Path(out)
    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    for kind in ("partial", "old"):
        prefix = _sibling_pattern(out, kind)
        for p in out.parent.glob(f"{prefix}*"):
            if p.is_dir() and not p.is_symlink() and _stale(p, prefix):
                shutil.rmtree(p, ignore_errors=True)
                if not p.exists():
                    removed.append(p)
    return removed


class _TerminateAsExit:
    """Within ``with``: SIGTERM raises SystemExit so the temporary folder is removed."""

    def __enter__(self) -> _TerminateAsExit:
        import signal
        import threading

        self._old: Any = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGTERM)

            def _raise(signum: int, frame: Any) -> None:
                # once: a second SIGTERM must not interrupt the clean-up the first one starts
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                raise SystemExit(128 + signum)

            signal.signal(signal.SIGTERM, _raise)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _plan_folder_checks(out: Path) -> None:
    """Refuse an ``out`` that cannot be a plan folder; make its parent; clear leftovers."""
    if out.exists() and not out.is_dir():
        raise LayerSchemaError(f"{out}: --out must be a plan directory; found a file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnjuError(f"{out}: cannot make the plan's folder ({exc.strerror})") from exc
    clean_stale_siblings(out)


def _partial_folder(out: Path) -> Path:
    """The hidden ``.OUT.partial-<pid>-<random>`` folder a plan is written into (mode 0700)."""
    try:
        return Path(
            tempfile.mkdtemp(
                prefix=f"{_sibling_pattern(out, 'partial')}{os.getpid()}-", dir=out.parent
            )
        )
    except OSError as exc:
        raise AnjuError(f"{out.parent}: cannot write the plan here ({exc.strerror})") from exc


class EarlyRasters:
    """Plan rasters written while the pipeline is still computing the rest of the plan.

    The rasters known early (the DEM, slope, travel times) are compressed on one worker
    thread while the relocation stage runs (GDAL compresses with the GIL released), into
    the same hidden ``.OUT.partial-<pid>-…`` folder :func:`write_plan` then completes and
    moves into place; :func:`write_plan` writes only what was not submitted here, or was
    submitted as a different array. The folder is the plan's temporary folder in every
    other way: a killed run's is cleared by the next run (:func:`clean_stale_siblings`),
    and :meth:`close` with ``remove=True`` (any failure before the plan is written) stops
    the worker after its current raster and removes the folder.
    """

    def __init__(self, out: str | Path, grid: Grid) -> None:
        self.out = Path(out)
        self.grid = grid
        _plan_folder_checks(self.out)
        self.tmp = _partial_folder(self.out)
        (self.tmp / "rasters").mkdir()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anju-rasters")
        self._jobs: dict[str, tuple[np.ndarray, Any]] = {}

    def submit(self, name: str, arr: np.ndarray) -> None:
        """Start writing raster ``name`` (declared in :data:`PLAN_RASTERS`); ``arr`` must not
        change afterwards (the plan must hand :func:`write_plan` the same array object)."""
        if name not in PLAN_RASTERS:
            raise LayerSchemaError(f"plan raster {name!r}: not declared in PLAN_RASTERS")
        self._jobs[name] = (arr, self._pool.submit(self._write, name, arr))

    def _write(self, name: str, arr: np.ndarray) -> list[str]:
        if self._stop.is_set():
            return []
        return _write_one_raster(self.tmp / "rasters", name, arr, self.grid)

    def outputs_of(self, name: str, arr: np.ndarray) -> list[str] | None:
        """The outputs written for ``name`` (waiting for them), or None when ``arr`` is not
        the array submitted under that name (then the caller writes it)."""
        job = self._jobs.get(name)
        if job is None or job[0] is not arr:
            return None
        return job[1].result()

    def close(self, *, remove: bool) -> None:
        """Stop the worker (after its current raster); ``remove``: delete the folder too."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if remove:
            shutil.rmtree(self.tmp, ignore_errors=True)


def write_plan(
    out: str | Path, plan: PlanOutput, *, xlsx: bool = False, early: EarlyRasters | None = None
) -> dict[str, Any]:
    """Write a plan directory atomically and return its manifest.

    Tables are written as CSV; with ``xlsx`` also as XLSX workbooks (a 中文 and an en sheet),
    which take most of the writing time on a large household register (the dashboard's
    export buttons make an XLSX of any table on demand).

    The plan is written into a hidden sibling folder (``.OUT.partial-<pid>-<random>``, mode
    0700 while it is written) and moved into place at the end, so ``out`` holds either the
    previous plan or the complete new one. Leftovers of killed runs beside ``out`` are removed
    first; the temporary folder is removed on any exit (SIGTERM included). Tables with personal
    columns (household names, ID numbers, phones) are written last, with mode 0600.
    ``early``: rasters already being written into that folder (:class:`EarlyRasters`);
    it is closed here, whatever happens.

    Raises
    ------
    LayerSchemaError
        When a layer breaks the contract (a bug in the caller: nothing is written).
    """
    out = Path(out)
    try:
        stored = {name: _encode(name, frame) for name, frame in plan.layers.items()}
        problems = [p for name, frame in stored.items() for p in check_layer(name, frame)]
        unknown = [r for r in plan.rasters if r not in PLAN_RASTERS]
        problems += [f"plan raster {r!r}: not declared in PLAN_RASTERS" for r in unknown]
        if problems:
            raise LayerSchemaError("plan does not follow its contract:\n" + "\n".join(problems))
        t0 = time.perf_counter()
        if early is None:
            _plan_folder_checks(out)
    except BaseException:
        if early is not None:
            early.close(remove=True)
        raise
    with _TerminateAsExit():
        tmp = early.tmp if early is not None else None
        try:
            if tmp is None:
                tmp = _partial_folder(out)
            manifest = _write_into(tmp, plan, stored, t0, xlsx=xlsx, early=early)
            if early is not None:
                early.close(remove=False)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)
            _swap_into_place(tmp, out)
        except BaseException as exc:
            if early is not None:
                early.close(remove=False)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):  # disk full, permissions: the previous plan stays
                raise AnjuError(
                    f"{out}: could not write the plan ({exc.strerror or exc}); nothing was changed"
                ) from exc
            raise
    return manifest


def _write_one_raster(folder: Path, name: str, arr: np.ndarray, grid: Grid) -> list[str]:
    """One plan raster into ``folder`` (``OUT/rasters``); the DEM once more as the map's
    Web-Mercator COG (``OUT/web/dem.tif``): the one hillshade of the map's tiles and of the
    printed briefing, read as one window per tile, no reprojection (layers/cog.py); the
    overlays are tiled from OUT/rasters (their overviews). Returns the outputs written."""
    from layers.cog import write_cog

    _write_raster(folder / f"{name}.tif", arr, grid, max_z_error=PLAN_RASTERS[name])
    if name != "dem":
        return [f"rasters/{name}.tif"]
    write_cog(folder.parent / "web" / "dem.tif", arr, grid)
    return [f"rasters/{name}.tif", "web/dem.tif"]


def _write_rasters(
    folder: Path,
    plan: PlanOutput,
    stop: threading.Event | None = None,
    early: EarlyRasters | None = None,
) -> list[str]:
    """Every plan raster as a tiled GeoTIFF in ``folder`` (``OUT/rasters``), and the DEM once
    more as the map's Web-Mercator COG (``OUT/web/dem.tif``); the outputs written, in the
    order of ``plan.rasters`` then the COG. Rasters ``early`` wrote are waited for, not
    written again. Stops between rasters once ``stop`` is set (the rest of the write failed)."""
    rasters: list[str] = []
    cog: list[str] = []
    for name, arr in plan.rasters.items():
        if stop is not None and stop.is_set():
            break
        done = early.outputs_of(name, arr) if early is not None else None
        if done is None:
            done = _write_one_raster(folder, name, arr, plan.grid)
        rasters += [o for o in done if o.startswith("rasters/")]
        cog += [o for o in done if not o.startswith("rasters/")]
    return rasters + cog


def _write_vectors_and_tables(
    tmp: Path, plan: PlanOutput, stored: dict[str, pd.DataFrame], *, xlsx: bool
) -> list[str]:
    """The web COG, the GeoPackage layers, the tables and indicators.json; the outputs."""
    outputs: list[str] = []
    gpkg = tmp / "plan.gpkg"
    personal_layer = False
    for name, frame in stored.items():
        if not isinstance(frame, gpd.GeoDataFrame):
            continue
        personal_layer |= _is_personal(frame)
        _gpkg_safe(to_storage(frame)).to_file(gpkg, layer=name, driver="GPKG")
        outputs.append(f"plan.gpkg:{name}")
    if personal_layer:
        os.chmod(gpkg, 0o600)
    personal: list[str] = []
    for name, df in plan.tables.items():
        if name == "unplaced":  # a plain CSV: the allocation's own words, no XLSX
            df.to_csv(tmp / "tables" / "unplaced.csv", index=False, encoding="utf-8-sig")
            continue
        if _is_personal(df):
            personal.append(name)  # written last: nothing else is waiting behind them
            continue
        outputs += _write_table(df, plan.tables_zh.get(name), tmp / "tables", name, xlsx=xlsx)
    (tmp / "indicators.json").write_text(
        json.dumps(plan.indicators, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    outputs.append("indicators.json")
    for name in personal:
        outputs += _private_table(
            plan.tables[name], plan.tables_zh.get(name), tmp / "tables", name, xlsx=xlsx
        )
    return outputs


def _write_into(
    tmp: Path,
    plan: PlanOutput,
    stored: dict[str, pd.DataFrame],
    t0: float,
    *,
    xlsx: bool,
    early: EarlyRasters | None = None,
) -> dict[str, Any]:
    (tmp / "rasters").mkdir(exist_ok=True)
    (tmp / "tables").mkdir()
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # GDAL compresses the rasters with the GIL released: they are written on a worker
        # thread while this one writes the GeoPackage and the tables
        rasters_done = pool.submit(_write_rasters, tmp / "rasters", plan, stop, early)
        try:
            outputs = _write_vectors_and_tables(tmp, plan, stored, xlsx=xlsx)
        except BaseException:
            stop.set()  # the worker ends after its current raster; the folder is removed
            raise
        outputs = rasters_done.result() + outputs
    stages = {**plan.manifest.get("stages", {}), "write": round(time.perf_counter() - t0, 3)}
    manifest = {
        "plan_format": PLAN_FORMAT,
        **plan.manifest,
        "stages": stages,
        "crs_storage": STORAGE_CRS.to_string(),
        "raster_max_error": {
            "travel_min": PLAN_RASTERS[f"travel_min_{TRAVEL_KINDS[0]}"],
            "suitability": PLAN_RASTERS["suitability"],
        },
        "outputs": outputs,
    }
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, default=_json_default),
        encoding="utf-8",
    )
    return manifest


def _swap_into_place(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        # unique (not only the pid: a reused pid must not meet its predecessor's leftover)
        old = Path(
            tempfile.mkdtemp(prefix=f"{_sibling_pattern(out, 'old')}{os.getpid()}-", dir=out.parent)
        )
        out.replace(old)  # onto the empty folder just made: an atomic rename
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None and not out.exists():
            old.rename(out)  # put the previous plan back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- reading


BUILD_COMMAND = "anju run data/demo --out data/demo/plan"


def build_command(plan_dir: str | Path | None = None) -> str:
    """The command that writes the plan ``plan_dir`` should hold: for a workspace folder
    (it has ``workspace.toml``) its own plan, for a folder beside or inside a workspace that
    workspace's, else the demo's (:data:`BUILD_COMMAND`)."""
    if plan_dir is None:
        return BUILD_COMMAND
    d = Path(plan_dir)
    if (d / "workspace.toml").is_file():
        return f"anju run {d} --out {d / 'plan'} && anju serve {d / 'plan'}"
    if (d.parent / "workspace.toml").is_file():
        return f"anju run {d.parent} --out {d}"
    return BUILD_COMMAND


def _read_json(path: Path, *, default: Any) -> Any:
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayerSchemaError(f"plan file {path}: expected JSON, found: {exc}") from exc


@dataclass
class StoredPlan:
    """A plan directory opened for reading (nothing but the JSON files is read yet).

    Attributes
    ----------
    plan_dir : Path
    manifest : dict
        ``manifest.json`` (``{}`` when absent).
    indicators : Any
        ``indicators.json`` as parsed (``[]`` when absent).
    layer_names : set of str
        Layers present in ``plan.gpkg``.
    """

    plan_dir: Path
    manifest: dict[str, Any]
    indicators: Any
    layer_names: set[str]

    @property
    def gpkg(self) -> Path:
        return self.plan_dir / "plan.gpkg"

    @property
    def metric_crs(self) -> CRS | None:
        """The CRS the plan was computed in (``None`` when the manifest does not say)."""
        crs = self.manifest.get("crs_metric")
        return CRS.from_user_input(crs) if crs else None

    def read_layer(
        self, name: str, *, crs: Any = None, allow_personal: bool = False
    ) -> gpd.GeoDataFrame:
        """One layer of ``plan.gpkg`` (storage CRS unless ``crs``); personal columns dropped.

        Raises
        ------
        LayerNotFoundError
            When the plan has no such layer.
        LayerSchemaError
            When the layer cannot be read.
        """
        if name not in self.layer_names:
            raise LayerNotFoundError(
                f"plan file {self.gpkg}: expected a layer {name!r}, found layers {sorted(self.layer_names)}"
            )
        try:
            gdf = pyogrio.read_dataframe(self.gpkg, layer=name)
        except (pyogrio.errors.DataSourceError, OSError) as exc:
            raise LayerSchemaError(
                f"plan file {self.gpkg}, layer {name}: unreadable: {exc}"
            ) from exc
        if not allow_personal:
            gdf = gdf.drop(columns=[c for c in PERSONAL_COLUMNS if c in gdf.columns])
        if crs is not None and gdf.crs is not None:
            gdf = gdf.to_crs(crs)
        return gdf

    @property
    def raster_paths(self) -> dict[str, Path]:
        """Raster name → file, for the rasters present."""
        return {p.stem: p for p in sorted((self.plan_dir / "rasters").glob("*.tif"))}

    def read_raster(self, name: str) -> tuple[np.ndarray, Grid]:
        """A raster's first band (NaN = nodata) and its grid.

        Raises
        ------
        LayerNotFoundError
            When the plan has no such raster.
        """
        path = self.plan_dir / "rasters" / f"{name}.tif"
        if not path.is_file():
            raise LayerNotFoundError(f"plan raster {path}: expected a GeoTIFF, found nothing")
        with rasterio.open(path) as src:
            crs = self.metric_crs or (CRS.from_user_input(src.crs) if src.crs else None)
            return src.read(1), Grid(src.shape, src.transform, crs)

    def settings(self) -> Settings:
        """The settings the plan was made with (``manifest.json["settings"]``).

        Raises
        ------
        LayerSchemaError
            When the manifest records no settings (a plan from an older anju).
        """
        recorded = self.manifest.get("settings")
        if not recorded:
            raise LayerSchemaError(
                f"plan file {self.plan_dir / 'manifest.json'}: expected the run's settings, found none "
                f"(re-run `anju run` to rebuild the plan)"
            )
        return settings_from_dict(recorded)


def plan_gpkg(plan_dir: str | Path) -> Path:
    """The plan's ``plan.gpkg``.

    Raises
    ------
    LayerNotFoundError
        When there is none (the message gives the command that builds the demo plan).
    """
    gpkg = Path(plan_dir) / "plan.gpkg"
    if not gpkg.is_file():
        raise LayerNotFoundError(
            f"plan file {gpkg}: expected plan.gpkg written by `{build_command(plan_dir)}`, "
            "found nothing"
        )
    return gpkg


def open_plan(plan_dir: str | Path) -> StoredPlan:
    """Open a plan directory written by :func:`write_plan`.

    Raises
    ------
    LayerNotFoundError
        When plan.gpkg or its ``villages`` layer is missing.
    LayerSchemaError
        When plan.gpkg, indicators.json or manifest.json cannot be read.
    """
    root = Path(plan_dir).resolve()
    gpkg = plan_gpkg(root)
    manifest = _read_json(root / "manifest.json", default={})
    try:
        names = {row[0] for row in pyogrio.list_layers(gpkg)}
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise LayerSchemaError(f"plan file {gpkg}: expected a GeoPackage, found: {exc}") from exc
    if "villages" not in names:
        raise LayerNotFoundError(
            f"plan file {gpkg}: expected a layer 'villages', found layers {sorted(names)}"
        )
    return StoredPlan(
        plan_dir=root,
        manifest=manifest,
        indicators=_read_json(root / "indicators.json", default=[]),
        layer_names=names,
    )
