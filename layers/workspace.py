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
    x = "lon"; y = "lat"; crs = "EPSG:4490"   # CSV point tables only
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
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError
from rasterio.transform import rowcol

from layers.catalogue import SPECS
from layers.crs import choose_metric_crs
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
_LAYER_KEYS = {"path", "layer", "encoding", "rename", "x", "y", "crs"}
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
        p = str(spec["path"])
        path = Path(p) if p.startswith("/vsi") or Path(p).is_absolute() else root / p
        sources[kind] = LayerSource(
            kind=kind,
            path=path,
            layer=spec.get("layer"),
            encoding=spec.get("encoding"),
            rename=dict(spec.get("rename") or {}),
            x=spec.get("x"),
            y=spec.get("y"),
            crs=spec.get("crs"),
        )
    for kind in REQUIRED_KINDS:
        if kind not in sources:
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


def file_sha256(path: Path) -> str | None:
    """Checksum of a file (and its shapefile side-cars), for the manifest."""
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
    for kind, src in ws.sources.items():
        if kind == "dem":
            continue
        label = str(src.path)
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
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None and src.crs and src.x is None:
            # the user declared the CRS of a file that carries none (a Shapefile without .prj)
            frame = frame.set_crs(src.crs)
        if info.note:
            problems.append(Problem(label, src.layer or kind, info.note, severity="warning"))
        clean, probs = validate_layer(
            frame,
            kind,
            file=label,
            layer=src.layer or kind,
            renames=src.rename,
            infer_surface_from_class=infer,
        )
        problems += probs
        frames[kind] = clean

    crs = _pick_crs(ws, metric_crs, frames, problems)
    dem = None
    if "dem" in ws.sources:
        src = ws.sources["dem"]
        try:
            dem = read_dem(src.path, metric_crs=crs)
            if crs is None:
                crs = dem.crs
        except AnjuError as exc:
            problems.append(Problem(str(src.path), "dem", str(exc).split(": ", 1)[-1]))
    if crs is not None and dem is not None and CRS.from_user_input(dem.crs) != crs:
        dem = warp_dem(dem, crs, resolution=dem.cellsize[0])
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    for kind, frame in frames.items():
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and crs is not None:
            ok = ~(frame.geometry.isna() | frame.geometry.is_empty)
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
    _cross_checks(ws, layers, dem, problems)
    return LoadedWorkspace(
        workspace=ws, metric_crs=crs, dem=dem, layers=layers, problems=problems, settings=settings
    )


def _pick_crs(ws: Workspace, override, frames, problems) -> CRS | None:
    f = str(ws.root / "workspace.toml")
    for value in (override, ws.crs):
        if value:
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
            dcrs, bounds = raster_crs_and_bounds(ws.sources["dem"].path)
        except AnjuError:
            pass  # read_dem reports an unreadable DEM; the vector layers decide the CRS
        else:
            if dcrs is not None and dcrs.is_projected:
                return dcrs
            if dcrs is not None:
                return choose_metric_crs((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    for frame in frames.values():
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and len(frame):
            c = frame.to_crs(4490).union_all().centroid
            return choose_metric_crs(c.x, c.y)
    return None


def _cross_checks(ws: Workspace, layers, dem: Dem | None, problems: list[Problem]) -> None:
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
