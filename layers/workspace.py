"""Workspaces: ``workspace.toml`` plus the files it names, loaded and validated.

A workspace is a folder with ``workspace.toml``::

    [workspace]
    name = "青岩县"
    crs = "EPSG:4545"          # metric CRS, fixed once chosen (else from the DEM / centre)
    policy = "national"
    province_group = "west"

    [layers.villages]
    path = "villages.shp"
    encoding = "GB18030"       # optional
    layer = "villages"         # optional, for multi-layer files
    x = "lon"; y = "lat"; crs = "EPSG:4490"   # CSV point tables (crs also for files without .prj)
    # crs = "GCJ-02" / "BD-09": coordinates from Amap, Tencent, DataV / Baidu, any file;
    # converted to CGCS2000 on read (layers.chinacoords)
    [layers.villages.rename]
    "村名" = "name"

    [parameters]
    infer_surface_from_class = true

:func:`load_workspace` reads every layer, validates it, and returns a
:class:`LoadedWorkspace` whose layers are in the metric CRS, together with every
problem found. It never raises for content problems; :meth:`LoadedWorkspace.raise_for_errors`
does, once, with all of them.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError
from pyproj.exceptions import ProjError
from rasterio.transform import rowcol

from layers import chinacoords
from layers.budget import (
    available_memory_bytes,
    check_memory_for_cells,
    fmt_bytes,
    raster_shape,
)
from layers.catalogue import SPECS
from layers.crs import central_meridian, check_bounds, choose_metric_crs, crs_name
from layers.datums import (
    DATUM_ERROR,
    crs_towgs84,
    datum_warning,
    legacy_datum,
    parse_towgs84,
    shift_to_cgcs2000,
)
from layers.dem_sources import (
    MissingTilesError,
    county_outside_dem,
    max_dem_cells,
    network_path,
    vsizip_sha256,
)
from layers.errors import AnjuError, LayerNotFoundError, PolicyError, Problem, ValidationError
from layers.readers import (
    Dem,
    osm_roads,
    raster_crs_and_bounds,
    read_dem,
    read_vector,
    warp_dem,
)
from layers.settings import Settings, load_settings
from layers.validate import validate_layer

REQUIRED_KINDS = ("dem", "boundary", "villages", "roads")
_LAYER_KEYS = {"path", "layer", "encoding", "rename", "x", "y", "crs", "towgs84", "margin_m"}
#: How far beyond the county boundary the DEM is read (m): destinations just across the
#: border are reached, whole SRTM tiles around a small county are not analysed.
DEM_MARGIN_M = 10_000.0
_WS_KEYS = {"name", "crs", "policy", "province_group"}
_TOP_KEYS = {"workspace", "layers", "parameters"}


@dataclass
class LayerSource:
    kind: str
    path: Path
    layer: str | None = None
    encoding: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    # legacy-datum shift (layers.datums); the DEM's list of declared paths (tiles, patterns)
    # and, once loaded, every raster read (layers.dem_sources), for the manifest's inputs
    towgs84: tuple[float, ...] | None = None
    paths: list[Path] = field(default_factory=list)
    tiles: list[str] = field(default_factory=list)
    margin_m: float = DEM_MARGIN_M  # the DEM is read this far beyond the county boundary

    @property
    def label(self) -> str:
        return str(self.path) + (f"|{self.layer}" if self.layer else "")


@dataclass
class Workspace:
    root: Path
    name: str
    crs: str | None
    policy: str
    province_group: str | None
    sources: dict[str, LayerSource]
    parameters: dict


@dataclass
class LoadedWorkspace:
    """Validated layers in one metric CRS, the DEM on its grid, the settings (profile +
    parameters; None when they are invalid) and every problem found."""

    workspace: Workspace
    metric_crs: CRS | None
    dem: Dem | None
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame]
    problems: list[Problem]
    settings: Settings | None = None
    #: What the DEM is (tiles, CRS, cell sizes, datum shift) and how well it covers the
    #: county (:func:`_dem_checks`): for ``manifest.json`` and the pipeline
    dem_info: dict | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.problems)


def _unknown_keys(found, valid, where, file, problems):
    for k in found:
        if k not in valid:
            hint = difflib.get_close_matches(k, sorted(valid), n=1)
            problems.append(
                Problem(
                    file,
                    "workspace.toml",
                    f"unknown key {k!r} in {where}"
                    + (
                        f"; did you mean {hint[0]!r}?"
                        if hint
                        else f"; valid keys: {', '.join(sorted(valid))}"
                    ),
                )
            )


def read_workspace(root: str | Path) -> tuple[Workspace | None, list[Problem]]:
    """Parse ``workspace.toml``; return the workspace (or None) and the problems found."""
    root = Path(root)
    toml_path = root / "workspace.toml"
    problems: list[Problem] = []
    f = str(toml_path)
    if not root.is_dir():
        return None, [Problem(str(root), "", "workspace folder not found")]
    if not toml_path.exists():
        return None, [
            Problem(
                f, "", "workspace.toml not found; a workspace needs one naming each layer's file"
            )
        ]
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(f, "", f"not valid TOML: {exc}")]
    except UnicodeDecodeError:
        return None, [Problem(f, "", "workspace.toml must be UTF-8 text")]
    _unknown_keys(doc, _TOP_KEYS, "the top level", f, problems)
    ws = doc.get("workspace", {})
    _unknown_keys(ws, _WS_KEYS, "[workspace]", f, problems)
    sources: dict[str, LayerSource] = {}
    refused: set[str] = set()  # declared, but with a path refused (said once, not twice)
    for kind, spec in (doc.get("layers") or {}).items():
        if kind not in SPECS:
            hint = difflib.get_close_matches(kind, list(SPECS), n=1)
            problems.append(
                Problem(
                    f,
                    kind,
                    f"unknown layer kind [layers.{kind}]"
                    + (
                        f"; did you mean {hint[0]!r}?"
                        if hint
                        else f"; known kinds: {', '.join(SPECS)}"
                    ),
                )
            )
            continue
        if not isinstance(spec, dict) or "path" not in spec:
            problems.append(Problem(f, kind, f"[layers.{kind}] needs a path"))
            continue
        _unknown_keys(spec, _LAYER_KEYS, f"[layers.{kind}]", f, problems)
        raw = spec["path"]
        # the DEM alone may be tiles: a list of files and glob patterns (layers.dem_sources)
        if isinstance(raw, list) and (kind != "dem" or not raw):
            problems.append(
                Problem(
                    f,
                    kind,
                    f"[layers.{kind}] path: expected "
                    + (
                        "one or more DEM files"
                        if kind == "dem"
                        else "one file (only the DEM takes a list)"
                    )
                    + f", found {raw!r}",
                )
            )
            continue
        entries = [str(e) for e in raw] if isinstance(raw, list) else [str(raw)]
        remote = [e for e in entries if network_path(e)]
        if remote:
            problems.append(
                Problem(
                    f,
                    kind,
                    f"[layers.{kind}] path: expected a local file, found the network path "
                    f"{remote[0][:80]!r} (anju reads no URL and no GDAL network file system: "
                    "download the file into the workspace)",
                )
            )
            refused.add(kind)
            continue
        paths = [
            Path(p) if p.startswith("/vsi") or Path(p).is_absolute() else root / p for p in entries
        ]
        towgs84, bad = parse_towgs84(spec.get("towgs84"))
        if bad:
            problems.append(Problem(f, kind, f"[layers.{kind}] {bad}"))
        margin = spec.get("margin_m", DEM_MARGIN_M)
        if "margin_m" in spec and (
            kind != "dem"
            or isinstance(margin, bool)
            or not isinstance(margin, int | float)
            or not margin >= 0
        ):
            problems.append(
                Problem(
                    f,
                    kind,
                    f"[layers.{kind}] margin_m: expected metres >= 0 "
                    + ("(the DEM's only)" if kind != "dem" else "")
                    + f", found {margin!r}",
                )
            )
            margin = DEM_MARGIN_M
        sources[kind] = LayerSource(
            kind=kind,
            path=paths[0],
            layer=spec.get("layer"),
            encoding=spec.get("encoding"),
            rename=dict(spec.get("rename") or {}),
            x=spec.get("x"),
            y=spec.get("y"),
            crs=spec.get("crs"),
            towgs84=towgs84,
            paths=paths,
            margin_m=float(margin),
        )
    for kind in REQUIRED_KINDS:
        if kind not in sources and kind not in refused:
            problems.append(
                Problem(
                    f,
                    kind,
                    f"required layer {kind!r} is not declared ([layers.{kind}] with a path)",
                )
            )
    # the workspace's own [parameters]: validated, with the profile's base values, by
    # layers.settings.load_settings (unknown keys, types and ranges)
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        problems.append(Problem(f, "workspace", f"[parameters] must be a table; found {params!r}"))
        params = {}
    group = ws.get("province_group")  # required by profiles with thresholds by group
    if group is not None and group not in ("east", "central", "west"):
        problems.append(
            Problem(
                f, "workspace", f"province_group must be east, central or west; found {group!r}"
            )
        )
    return (
        Workspace(
            root=root,
            name=str(ws.get("name", root.name)),
            crs=ws.get("crs"),
            policy=str(ws.get("policy", "national")),
            province_group=group,
            sources=sources,
            parameters=params,
        ),
        problems,
    )


def file_sha256(path: Path | str) -> str | None:
    """Checksum of a file (and its shapefile side-cars), or of one member of a zip given
    as ``/vsizip/<zip>/<member>`` (a DEM tile), for the manifest."""
    if str(path).startswith("/vsizip/"):
        return vsizip_sha256(str(path))
    p = Path(path)
    if not p.exists():
        return None
    h = hashlib.sha256()
    parts = [p]
    if p.suffix.lower() == ".shp":
        parts += [
            p.with_suffix(s) for s in (".dbf", ".shx", ".prj", ".cpg") if p.with_suffix(s).exists()
        ]
    for q in parts:
        with open(q, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def workspace_settings(
    ws: Workspace, *, policy: str | Path | None = None
) -> tuple[Settings | None, list[Problem]]:
    """The workspace's :class:`~layers.settings.Settings` (its profile, or ``policy``,
    plus its ``[parameters]``), or None with one problem per line of what is wrong."""
    ref: str | Path = policy or ws.policy
    # a profile file named in workspace.toml is found beside it
    if policy is None and str(ref).endswith(".toml") and not Path(ref).is_absolute():
        ref = ws.root / ref
    try:
        return (
            load_settings(ref, province_group=ws.province_group, parameters=ws.parameters),
            [],
        )
    except PolicyError as exc:
        f = str(ws.root / "workspace.toml")
        lines = [ln.strip() for ln in str(exc).splitlines()]
        if len(lines) > 1 and lines[0].endswith("problem(s):"):
            head, lines = lines[0].split(":", 1)[0], lines[1:]
        else:
            head = f"policy {ref!r}"
        return None, [Problem(f, "policy", f"{head}: {ln}") for ln in lines if ln]


def load_workspace(
    root: str | Path, *, metric_crs: str | CRS | None = None, policy: str | Path | None = None
) -> LoadedWorkspace:
    """Read, validate and reproject every layer of a workspace, collecting all problems.

    Parameters
    ----------
    root
        Workspace folder holding ``workspace.toml``.
    metric_crs
        Override for the computation CRS (else ``[workspace] crs``, else the DEM's
        projected CRS, else the GK zone at the centre).
    policy
        Policy profile name or path overriding the workspace's ``policy``.
    """
    ws, problems = read_workspace(root)
    if ws is None:
        raise ValidationError(problems)
    settings, setting_problems = workspace_settings(ws, policy=policy)
    problems += setting_problems
    # when the settings are invalid the run is refused; the layers are still checked,
    # reading surfaces as the workspace says (or as recorded, if it says nothing usable)
    infer = (
        settings.parameters.infer_surface_from_class
        if settings is not None
        else ws.parameters.get("infer_surface_from_class") is not False
    )
    frames: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    near_lon = _centre_lon_hint(ws, metric_crs)
    misplaced: set[str] = set()
    for kind, src in ws.sources.items():
        if kind == "dem":
            continue
        label = str(src.path)
        bad_crs = _declared_crs_problem(src)
        if bad_crs:
            problems.append(Problem(label, src.layer or kind, bad_crs))
            continue
        try:
            frame, info = read_vector(
                src.path, layer=src.layer, encoding=src.encoding, x=src.x, y=src.y, crs=src.crs
            )
        except LayerNotFoundError as exc:
            problems.append(Problem(label, src.layer or kind, str(exc).split(": ", 1)[-1]))
            continue
        except AnjuError as exc:
            problems.append(Problem(label, src.layer or kind, str(exc).split(": ", 1)[-1]))
            continue
        if kind == "roads" and str(src.path).lower().endswith((".pbf", ".osm")):
            frame = osm_roads(frame)
        if (
            isinstance(frame, gpd.GeoDataFrame)
            and frame.crs is None
            and src.crs
            and src.x is None
            and info.datum is None
        ):
            # the user declared the CRS of a file that carries none (a Shapefile without .prj)
            frame = frame.set_crs(src.crs)
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
            frame = _shift_datum(frame, src, label, problems)
        if info.note:
            problems.append(Problem(label, src.layer or kind, info.note, severity="warning"))
        fingerprint = _datav_warning(frame, kind, src)
        if fingerprint:
            problems.append(Problem(label, src.layer or kind, fingerprint, severity="warning"))
        clean, probs = validate_layer(
            frame,
            kind,
            file=label,
            layer=src.layer or kind,
            renames=src.rename,
            infer_surface_from_class=infer,
            near_lon=near_lon,
        )
        problems += probs
        frames[kind] = clean
        if _misplaced(clean):
            misplaced.add(kind)

    # a layer whose coordinates do not fit its CRS (already an error) neither chooses the
    # metric CRS nor feeds the cross-checks: its positions would only add noise
    crs = _pick_crs(
        ws, metric_crs, {k: f for k, f in frames.items() if k not in misplaced}, problems
    )
    dem = _read_dem(ws, crs, problems, clip=_dem_clip(ws, frames.get("boundary"), crs))
    if crs is None and dem is not None:
        crs = dem.crs
    if crs is not None and dem is not None and CRS.from_user_input(dem.crs) != crs:
        dem = warp_dem(dem, crs, resolution=dem.cellsize[0])
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    for kind, frame in frames.items():
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and crs is not None:
            ok = ~(frame.geometry.isna() | frame.geometry.is_empty)
            with np.errstate(all="ignore"):  # misplaced coordinates may project to inf
                frame = frame[ok].to_crs(crs)
        layers[kind] = frame
    if (
        "boundary" in layers
        and isinstance(layers["boundary"], gpd.GeoDataFrame)
        and len(layers["boundary"])
    ):
        b = layers["boundary"]
        layers["boundary"] = gpd.GeoDataFrame(
            {"name": [ws.name]}, geometry=[b.union_all()], crs=b.crs
        )
    placed = {k: f for k, f in layers.items() if k not in misplaced}
    _cross_checks(ws, placed, dem, problems, settings)
    dem_info = _dem_checks(ws, placed, frames, dem, crs, settings, problems)
    return LoadedWorkspace(
        workspace=ws,
        metric_crs=crs,
        dem=dem,
        layers=layers,
        problems=problems,
        settings=settings,
        dem_info=dem_info,
    )


def _pick_crs(ws: Workspace, override, frames, problems) -> CRS | None:
    f = str(ws.root / "workspace.toml")
    for value in (override, ws.crs):
        if value:
            if chinacoords.offset_datum(value):
                problems.append(
                    Problem(
                        f,
                        "workspace",
                        f"crs {value!r} is the offset longitude/latitude of Chinese web maps, not "
                        "a projected CRS; declare it on the layers that are in it "
                        f'([layers.<kind>] crs = "{chinacoords.offset_datum(value)}") and leave '
                        "[workspace] crs to a projected CRS in metres (or unset)",
                    )
                )
                return None
            try:
                crs = CRS.from_user_input(value)
            except ProjCRSError as exc:
                problems.append(
                    Problem(f, "workspace", f"crs {value!r} is not a CRS pyproj knows ({exc})")
                )
                return None
            if not crs.is_projected:
                problems.append(
                    Problem(
                        f,
                        "workspace",
                        f"crs {value!r} is geographic; the workspace CRS must be projected in metres",
                    )
                )
                return None
            return crs
    if "dem" in ws.sources:
        try:
            dsrc = ws.sources["dem"]
            dcrs, bounds = raster_crs_and_bounds(dsrc.paths or dsrc.path)
        except AnjuError:
            pass  # read_dem reports an unreadable DEM; the vector layers decide the CRS
        else:
            shifted = dcrs is not None and dsrc.towgs84 is not None and legacy_datum(dcrs)
            if dcrs is not None and dcrs.is_projected and not shifted:
                return dcrs
            if shifted and dcrs is not None and dcrs.is_projected:
                # a legacy-datum DEM with its datum shift is warped to CGCS2000's GK zone
                tr = Transformer.from_crs(dcrs, 4490, always_xy=True)
                lon, lat = tr.transform((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
                return choose_metric_crs(lon, lat)
            if dcrs is not None:
                return choose_metric_crs((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    for frame in frames.values():
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and len(frame):
            c = frame.to_crs(4490).union_all().centroid
            return choose_metric_crs(c.x, c.y)
    return None


def _misplaced(frame) -> bool:
    """True when a layer's coordinates do not fit its CRS (reported by validation)."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        return False
    geoms = frame.geometry[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if not len(geoms):
        return False
    x0, y0, x1, y1 = (float(b) for b in geoms.total_bounds)
    if not np.all(np.isfinite([x0, y0, x1, y1])):
        return True
    return check_bounds((x0, y0, x1, y1), frame.crs) is not None


def _centre_lon_hint(ws: Workspace, override) -> float | None:
    """Longitude of the workspace's centre, from its CRS or the DEM's extent (no pixels read).

    Only a hint for messages: it names the Gauss-Krüger zone that eastings without a zone
    number, declared as degrees, are probably in.
    """
    for value in (override, ws.crs):
        if value and not chinacoords.offset_datum(value):
            try:
                return central_meridian(CRS.from_user_input(value))
            except ProjCRSError:
                return None
    if "dem" not in ws.sources:
        return None
    dsrc = ws.sources["dem"]
    try:
        dcrs, b = raster_crs_and_bounds(dsrc.paths or dsrc.path)
        if dcrs is None:
            return None
        tr = Transformer.from_crs(dcrs, 4490, always_xy=True)
        lon, _ = tr.transform((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    except (AnjuError, ProjError):
        return None
    return float(lon) if np.isfinite(lon) else None


def _declared_crs_problem(src: LayerSource) -> str | None:
    """What is wrong with a layer's declared ``crs`` (None when it is usable or absent)."""
    if src.crs is None or chinacoords.offset_datum(src.crs):
        return None
    try:
        CRS.from_user_input(src.crs)
    except ProjCRSError:
        return (
            f"crs {src.crs!r} in [layers.{src.kind}] is not a CRS pyproj knows; expected e.g. "
            '"EPSG:4490", or "GCJ-02" / "BD-09" for coordinates copied from Amap, Tencent '
            "or Baidu maps"
        )
    return None


#: Layers of administrative divisions, where a bare ``adcode`` hints at an Amap source.
_DIVISION_LAYERS = ("boundary", "townships")


def _datav_warning(frame, kind: str, src: LayerSource) -> str | None:
    """A warning for a DataV / Amap layer (published in GCJ-02) whose datum nobody declared.

    Declaring any ``crs`` for the layer (``"GCJ-02"`` to convert it, ``"EPSG:4490"`` when it
    was converted already) says the user knows, and silences it.
    """
    if not isinstance(frame, gpd.GeoDataFrame) or src.crs is not None:
        return None
    keys = chinacoords.datav_fingerprint(frame)
    bare_code = not keys and kind in _DIVISION_LAYERS and "adcode" in map(str, frame.columns)
    if not keys and not bare_code:
        return None
    here = ""
    geoms = frame.geometry[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if frame.crs is not None and len(geoms):
        with np.errstate(all="ignore"):
            off = chinacoords.centre_offset_m(geoms)
        if off > 1.0:
            here = f" (about {off:.0f} m here)"
    if bare_code:
        # a division code alone is no proof (any source may carry it), but boundaries with
        # one mostly come from Amap / DataV or packages built on them (cnmaps): ask
        return (
            f"an adcode column (Chinese division code) and no declared crs: division "
            f"boundaries with adcode usually come from Amap / DataV or packages built on them "
            f"(e.g. cnmaps), published in GCJ-02: offset 300–600 m from CGCS2000{here}, yet it "
            f'is read as {crs_name(frame.crs)}; declare crs = "GCJ-02" in [layers.{kind}] of '
            'workspace.toml if so, or crs = "EPSG:4490" if it is CGCS2000'
        )
    return (
        f"properties {', '.join(keys)} mark a DataV / Amap layer, and those are published in "
        f"GCJ-02: offset 300–600 m from CGCS2000{here}, yet it is read as "
        f"{crs_name(frame.crs)}; if it came from DataV or Amap declare "
        f'crs = "GCJ-02" in [layers.{kind}] of workspace.toml (or crs = "EPSG:4490" if it '
        "was converted already)"
    )


def _datum_check(
    ws: Workspace, layers, problems: list[Problem], settings: Settings | None = None
) -> None:
    """Villages far from dense roads: a sign of GCJ-02 / BD-09 mixed with CGCS2000.

    A warning naming the datum when reading one layer in it puts the villages back on the
    roads; else, when the villages are a median of more than
    :data:`~layers.chinacoords.SNAP_SUSPECT_M` (the profile's ``[road] datum_suspect_snap_m``)
    from roads dense enough not to explain it,
    a warning that asks.
    """
    v, r = layers.get("villages"), layers.get("roads")
    if not (
        isinstance(v, gpd.GeoDataFrame)
        and isinstance(r, gpd.GeoDataFrame)
        and len(v) >= 3
        and len(r)
        and v.crs is not None
        and v.crs == r.crs
        and CRS.from_user_input(v.crs).is_projected
    ):
        return
    b = layers.get("boundary")
    area = (
        float(b.geometry.area.sum()) if isinstance(b, gpd.GeoDataFrame) and b.crs == v.crs else None
    )
    with np.errstate(all="ignore"):
        d = chinacoords.datum_diagnosis(
            v,
            r,
            area_m2=area or None,
            suspect_m=settings.road.datum_suspect_snap_m if settings else None,
            dense_km_per_km2=settings.road.dense_roads_km_per_km2 if settings else None,
        )
    if not d["suspect"]:
        return
    head = f"villages are a median {d['median_m']:.0f} m from the nearest road"
    vsrc, rsrc = ws.sources.get("villages"), ws.sources.get("roads")
    declared = {
        "villages": chinacoords.offset_datum(vsrc.crs) if vsrc else None,
        "roads": chinacoords.offset_datum(rsrc.crs) if rsrc else None,
    }
    if d["explained_by"] is not None:
        who, datum = d["explained_by"]
        alt = d["hypotheses"][d["explained_by"]]
        other = "roads" if who == "villages" else "villages"
        reading = f"read as {datum}" if who == "villages" else f"with the roads read as {datum}"
        msg = (
            f"{head}; {reading} they would be {alt:.0f} m: are the {who} in {datum}? "
            f'declare crs = "{datum}" in [layers.{who}] of workspace.toml'
        )
        if declared[other] == datum:
            # undoing the other layer's declared conversion fits as well
            msg += (
                f'; or, if the {other} are not in {datum} after all, remove their crs = "{datum}"'
            )
    else:
        msg = (
            f"{head} although the roads are dense "
            f"({d['road_density_km_per_km2']:.2f} km/km²): are they in GCJ-02 / BD-09? "
            'declare crs = "GCJ-02" (Amap, Tencent) or "BD-09" (Baidu) in [layers.villages]; '
            "else check both layers' CRSs"
        )
    file = str(vsrc.path) if vsrc else str(ws.root / "workspace.toml")
    problems.append(Problem(file, "villages", msg, severity="warning"))


def _cross_checks(
    ws: Workspace, layers, dem: Dem | None, problems: list[Problem], settings: Settings | None
) -> None:
    _datum_check(ws, layers, problems, settings)
    v = layers.get("villages")
    b = layers.get("boundary")
    if (
        isinstance(v, gpd.GeoDataFrame)
        and isinstance(b, gpd.GeoDataFrame)
        and len(v)
        and len(b)
        and v.crs == b.crs
    ):
        outside = ~v.geometry.representative_point().within(b.geometry.iloc[0].buffer(1.0))
        if outside.any():
            ids = v.loc[outside, "village_id"] if "village_id" in v.columns else v.index[outside]
            problems.append(
                Problem(
                    str(ws.sources["villages"].path),
                    "villages",
                    f"{int(outside.sum())} village(s) lie outside the county boundary: "
                    f"{', '.join(map(str, list(ids)[:10]))}",
                    severity="warning",
                )
            )
    if isinstance(v, gpd.GeoDataFrame) and dem is not None and len(v) and v.crs is not None:
        pts = v.geometry.representative_point()
        r, c = rowcol(dem.transform, pts.x.to_numpy(), pts.y.to_numpy())
        r, c = np.asarray(r), np.asarray(c)
        h, w = dem.shape
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        vals = np.full(len(v), np.nan)
        vals[inside] = dem.z[r[inside], c[inside]]
        off = ~np.isfinite(vals)
        if off.any():
            ids = (
                v["village_id"].to_numpy()[off]
                if "village_id" in v.columns
                else np.flatnonzero(off)
            )
            problems.append(
                Problem(
                    str(ws.sources["villages"].path),
                    "villages",
                    f"{int(off.sum())} village(s) fall outside the DEM or on nodata cells: "
                    f"{', '.join(map(str, ids[:10]))}",
                    severity="warning",
                )
            )
    hh = layers.get("households")
    if (
        isinstance(hh, pd.DataFrame)
        and isinstance(v, pd.DataFrame)
        and "village_id" in hh.columns
        and "village_id" in v.columns
    ):
        unknown = ~hh["village_id"].isin(set(v["village_id"]))
        if unknown.any():
            problems.append(
                Problem(
                    str(ws.sources["households"].path),
                    "households",
                    f"{int(unknown.sum())} household(s) name a village_id not in the villages layer: "
                    f"{', '.join(sorted(set(hh.loc[unknown, 'village_id'].astype(str)))[:10])}",
                    column="village_id",
                )
            )


# --------------------------------------------------------------------------- DEM and datums


def _dem_file(src: LayerSource) -> str:
    """How problems name the DEM: its path, or its list of tiles and patterns."""
    return ", ".join(map(str, src.paths)) if len(src.paths) > 1 else str(src.path)


def _dem_clip(ws: Workspace, boundary, crs: CRS | None) -> tuple[float, float, float, float] | None:
    """The extent the DEM is read to: the county boundary's bounds and the DEM's
    ``margin_m``, in ``crs`` (None without a usable boundary: the whole DEM is read)."""
    src = ws.sources.get("dem")
    if src is None or crs is None or not isinstance(boundary, gpd.GeoDataFrame):
        return None
    if boundary.crs is None or not len(boundary):
        return None
    with np.errstate(all="ignore"):
        b = boundary[~(boundary.geometry.isna() | boundary.geometry.is_empty)].to_crs(crs)
    x0, y0, x1, y1 = (float(v) for v in b.total_bounds)
    if not all(np.isfinite([x0, y0, x1, y1])) or x0 >= x1 or y0 >= y1:
        return None
    m = src.margin_m
    return (x0 - m, y0 - m, x1 + m, y1 + m)


def _read_dem(
    ws: Workspace,
    crs: CRS | None,
    problems: list[Problem],
    *,
    clip: tuple[float, float, float, float] | None = None,
) -> Dem | None:
    """The DEM (tiles mosaicked, warped to ``crs`` when geographic or datum-shifted), or None
    with the problem: a missing tile is named, one problem each. ``clip``: the extent read
    (:func:`_dem_clip`)."""
    src = ws.sources.get("dem")
    if src is None:
        return None
    try:
        dem = read_dem(src.paths or src.path, metric_crs=crs, towgs84=src.towgs84, clip=clip)
    except MemoryError:
        # the header passed the cell limit but this machine cannot hold the pixels: an
        # input too large for it, not a bug (issue 18)
        problems.append(
            Problem(
                _dem_file(src),
                "dem",
                f"the DEM{raster_shape(src.paths or src.path)} does not fit in memory once "
                f"clipped to the county: {fmt_bytes(available_memory_bytes())} available, "
                f"cell limit {max_dem_cells() / 1e6:,.0f} million (ANJU_MAX_DEM_CELLS); use "
                "coarser cells or a smaller area, or compute slope and travel time block by "
                "block with `anju blocks slope` / `anju blocks travel`",
            )
        )
        return None
    except MissingTilesError as exc:
        several = len(src.paths) > 1
        for m in exc.missing:
            pattern = m.endswith("(a pattern matching no file)")
            file = m.removesuffix(" (a pattern matching no file)")
            what = (
                "no file matches this DEM tile pattern"
                if pattern
                else (
                    "DEM tile not found" if several or " (a source of " in m else "file not found"
                )
            )
            if several:
                what += f" (one of the {len(src.paths)} entries of [layers.dem] path)"
            problems.append(Problem(file, "dem", what))
        return None
    except AnjuError as exc:
        # "<tile>: what is wrong": the tile at fault is the problem's file
        head, sep, tail = str(exc).partition(": ")
        problems.append(Problem(head if sep else _dem_file(src), "dem", tail if sep else head))
        return None
    src.tiles = list(dem.tiles)
    try:  # the whole-county run holds several grids of this size at once
        check_memory_for_cells(
            _dem_file(src), dem.z.shape, available=available_memory_bytes() + dem.z.nbytes
        )
    except AnjuError as exc:
        problems.append(Problem(_dem_file(src), "dem", str(exc).partition(": ")[2]))
        return None
    return dem


def _shift_datum(frame: gpd.GeoDataFrame, src: LayerSource, label: str, problems: list[Problem]):
    """A layer on Beijing-1954 / Xi'an-1980 with its datum shift, converted to EPSG:4490.

    The shift is ``towgs84`` in the layer's table, else a ``TOWGS84`` its ``.prj`` carries
    (PROJ would ignore that one on the way to CGCS2000). Without either the layer is left
    as it is, and :func:`_dem_checks` warns.
    """
    legacy = legacy_datum(frame.crs)
    params = src.towgs84
    if params is not None and legacy is None:
        problems.append(
            Problem(
                label,
                src.layer or src.kind,
                f"towgs84 is given but the layer is in {crs_name(frame.crs)}, not on Beijing-1954 "
                "or Xi'an-1980 (Krasovsky or IAG-1975 ellipsoid); remove towgs84 or correct "
                "the layer's CRS",
            )
        )
        return frame
    if legacy is None:
        return frame
    params = params or crs_towgs84(frame.crs)
    return shift_to_cgcs2000(frame, params) if params else frame


def _fmt_frac(frac: float) -> str:
    return "<0.1%" if 0 < frac < 0.001 else f"{frac:.1%}"


def _source_cells(dem: Dem) -> str:
    dx, dy = dem.source_cellsize or dem.cellsize
    if dem.source_crs is not None and dem.source_crs.is_geographic:
        return f"{dy * 3600:.3g}″ cells ({dy:.6g}°), warped to {dem.cellsize[0]:g} m"
    return f"{dx:g} m cells" + (f", warped to {dem.cellsize[0]:g} m" if dem.warped else "")


def _dem_checks(
    ws: Workspace,
    layers: dict,
    frames: dict,
    dem: Dem | None,
    crs: CRS | None,
    settings: Settings | None,
    problems: list[Problem],
) -> dict | None:
    """Datum warnings, the share of the county without DEM elevation, the DEM's resolution.

    Returns the ``dem`` block of the load result (None without a DEM). DESIGN.md rule 3:
    a coarse DEM, a county partly off the DEM and a datum converted with no shift change
    figures, so each is a warning (an error beyond ``dem_outside_max_frac``).
    """
    _datum_warnings(ws, frames, dem, crs, problems)
    if dem is None:
        return None
    src = ws.sources["dem"]
    f = _dem_file(src)
    params = settings.parameters if settings is not None else None
    cell = max(dem.cellsize)
    info: dict = {
        "path": [str(p) for p in src.paths] if len(src.paths) > 1 else str(src.path),
        "tiles": list(dem.tiles),
        "source_crs": crs_name(dem.source_crs),
        "crs": crs_name(dem.crs),
        "warped": dem.warped,
        "shape": list(dem.shape),
        "cellsize_m": [float(c) for c in dem.cellsize],
        "source_cellsize": [float(c) for c in dem.source_cellsize or dem.cellsize],
        "source_cellsize_m": [round(float(c), 1) for c in dem.source_cellsize_m or dem.cellsize],
        "datum_shift_towgs84": list(dem.datum_shift) if dem.datum_shift else None,
        "outside_frac": None,
        "coarse": None,
        "terrain_rules_unknown": None,
    }
    for note in dem.notes:
        problems.append(Problem(f, "dem", note, severity="warning"))

    b = layers.get("boundary")
    if isinstance(b, gpd.GeoDataFrame) and len(b) and b.crs is not None and b.crs == dem.crs:
        cov = county_outside_dem(dem.z, dem.transform, b.geometry.iloc[0])
        info.update(
            outside_frac=round(cov.outside_frac, 6),
            outside_km2=round(cov.outside_km2, 4),
            off_grid_km2=round(cov.off_grid_km2, 4),
            edge_nodata_km2=round(cov.edge_nodata_km2, 4),
            void_frac=round(cov.void_frac, 6),
            void_km2=round(cov.void_km2, 4),
            boundary_km2=round(cov.boundary_km2, 4),
        )
        limit = params.dem_outside_max_frac if params is not None else None
        tiles_hint = (
            "add the missing tiles ([layers.dem] path takes a list of tiles, a glob pattern, "
            "a zip of tiles or a VRT)"
        )
        if cov.outside_km2 * 1e6 > max(1.0, 1e-9 * cov.boundary_km2 * 1e6):
            error = limit is not None and cov.outside_frac > limit
            msg = (
                f"{_fmt_frac(cov.outside_frac)} of the county ({cov.outside_km2:.2f} of "
                f"{cov.boundary_km2:.2f} km²) lies outside the DEM: {cov.off_grid_km2:.2f} km² "
                f"beyond its extent, {cov.edge_nodata_km2:.2f} km² on nodata at its edge"
            )
            if error:
                msg += f"; more than dem_outside_max_frac = {limit:.1%}: {tiles_hint}"
            else:
                msg += (
                    "; elevations there are filled in from the nearest cells or absent, and "
                    "slopes and travel times with them"
                )
            problems.append(Problem(f, "dem", msg, severity="error" if error else "warning"))
        if limit is not None and cov.void_frac > limit:
            # small voids are filled and reported by the pipeline; a large one is invented ground
            problems.append(
                Problem(
                    f,
                    "dem",
                    f"{_fmt_frac(cov.void_frac)} of the county ({cov.void_km2:.2f} km²) lies in "
                    "DEM voids (nodata enclosed by data), more than dem_outside_max_frac = "
                    f"{limit:.1%}: the void fill would invent that ground; {tiles_hint}, or use "
                    "a void-filled DEM",
                )
            )

    if params is not None:
        coarse = cell > params.dem_coarse_cell_m
        unknown = cell > params.dem_max_cell_m
        info.update(
            coarse=coarse,
            terrain_rules_unknown=unknown,
            coarse_cell_m=params.dem_coarse_cell_m,
            max_cell_m=params.dem_max_cell_m,
        )
        if coarse:
            problems.append(
                Problem(
                    f,
                    "dem",
                    f"the DEM's cells are {cell:g} m ({_source_cells(dem)}), coarser than "
                    f"dem_coarse_cell_m = {params.dem_coarse_cell_m:g} m: slopes are smoothed, so "
                    "slope-based rules (land steeper than 25°, cliffs) are low-confidence, and so "
                    f"are travel times within a cell (places sharing a {cell:g} m cell are 0 "
                    "minutes apart); a 30 m DEM (SRTM 1″, ALOS AW3D30, ASTER GDEM) is the norm",
                    severity="warning",
                )
            )
        if unknown:
            problems.append(
                Problem(
                    f,
                    "dem",
                    f"the DEM's cells are {cell:g} m, coarser than dem_max_cell_m = "
                    f"{params.dem_max_cell_m:g} m: the terrain relocation rules STEEP (share of "
                    "land steeper than 25°) and HIGH_COLD (mean elevation) are unknown for every "
                    "village",
                    severity="warning",
                )
            )
    return info


def _datum_warnings(
    ws: Workspace, frames: dict, dem: Dem | None, crs: CRS | None, problems: list[Problem]
) -> None:
    """One warning per layer (and the DEM) converted from Beijing-1954 / Xi'an-1980 with
    PROJ's ballpark offset, naming the layer and the error to expect."""
    if crs is None:
        return
    target = legacy_datum(crs)
    if target is not None:
        # the metric CRS itself is on a legacy datum (a DEM without its datum shift)
        others = sorted(
            k
            for k, fr in frames.items()
            if isinstance(fr, gpd.GeoDataFrame)
            and fr.crs is not None
            and legacy_datum(fr.crs) != target
        )
        src = ws.sources.get("dem")
        from_dem = dem is not None and legacy_datum(dem.crs) == target and not ws.crs
        file = _dem_file(src) if from_dem and src else str(ws.root / "workspace.toml")
        where = "[layers.dem]" if from_dem else "[workspace] crs"
        problems.append(
            Problem(
                file,
                "dem" if from_dem else "workspace",
                f"the metric CRS {crs_name(crs)} is on {target}: "
                + (f"layer(s) {', '.join(others)} are converted to it, and " if others else "")
                + f"the plan is stored in CGCS2000 (EPSG:4490), with no datum shift ({target} to "
                f"CGCS2000 has no transformation in PROJ, only a ballpark offset): positions are "
                f"off by {DATUM_ERROR}; "
                + (
                    "give the DEM's seven parameters as towgs84 = [dx, dy, dz, rx, ry, rz, s] in "
                    f"{where} so it is warped to CGCS2000"
                    if from_dem
                    else f"set {where} to a CGCS2000 CRS (e.g. the 3-degree GK zone, EPSG:4534–4554)"
                ),
                severity="warning",
            )
        )
        return
    for kind, fr in frames.items():
        if isinstance(fr, gpd.GeoDataFrame) and fr.crs is not None:
            w = datum_warning(fr.crs, crs, what=f"layer {kind}")
            if w:
                s = ws.sources[kind]
                problems.append(Problem(str(s.path), s.layer or kind, w, severity="warning"))
    if dem is not None and dem.source_crs is not None and dem.datum_shift is None:
        w = datum_warning(dem.source_crs, crs, what="the DEM")
        if w:
            problems.append(Problem(_dem_file(ws.sources["dem"]), "dem", w, severity="warning"))
