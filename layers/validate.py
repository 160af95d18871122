"""Validate a loaded layer against its spec, collecting every problem at once.

``validate_layer`` never raises for content problems: it returns the cleaned
frame (canonical names, coerced types, repaired geometries) and a list of
:class:`~layers.errors.Problem`. Callers decide; ``anju check`` prints them all.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.catalogue import (
    BOOL_UNKNOWN,
    COMMON_RENAMES,
    HARDENED_BY_CLASS,
    HARDENED_SURFACES,
    ROAD_CLASS_ALIASES,
    SPECS,
    SURFACE_ALIASES,
    TRACKTYPE_HARDENED,
    Column,
    LayerSpec,
)
from layers.crs import check_bounds
from layers.errors import Problem
from layers.tristate import ACCEPTED as TRISTATE_ACCEPTED
from layers.tristate import UNKNOWN_TOKENS, invalid_tristate, to_tristate

_MAX_LISTED = 10
# A repair is accepted when the two standard repairs agree on the area within this share.
_REPAIR_AREA_TOL = 0.01


def _listed(values) -> str:
    vals = [str(v) for v in values]
    more = f" … and {len(vals) - _MAX_LISTED} more" if len(vals) > _MAX_LISTED else ""
    return ", ".join(vals[:_MAX_LISTED]) + more


class _Collector:
    def __init__(self, file: str, layer: str) -> None:
        self.file, self.layer = file, layer
        self.items: list[Problem] = []

    def error(self, message: str, *, row: str | None = None, column: str | None = None) -> None:
        self.items.append(Problem(self.file, self.layer, message, row=row, column=column))

    def warn(self, message: str, *, row: str | None = None, column: str | None = None) -> None:
        self.items.append(
            Problem(self.file, self.layer, message, row=row, column=column, severity="warning")
        )


def apply_renames(
    df: pd.DataFrame, kind: str, renames: dict[str, str] | None, col: _Collector | None = None
) -> pd.DataFrame:
    """Map user column names to canonical ones (explicit renames first, then common Chinese names)."""
    renames = dict(renames or {})
    for src in list(renames):
        if src not in df.columns:
            if col is not None:
                col.warn(
                    f"rename {src!r} → {renames[src]!r} given in workspace.toml but the file has no column {src!r}"
                )
            renames.pop(src)
    spec = SPECS[kind]
    canon = {c.name for c in spec.columns}
    for src, dst in COMMON_RENAMES.items():
        if (
            src in df.columns
            and src not in renames
            and dst in canon
            and dst not in df.columns
            and dst not in renames.values()
        ):
            renames[src] = dst
    return df.rename(columns=renames)


def _row_labels(df: pd.DataFrame, spec: LayerSpec, mask) -> list[str]:
    idx = np.flatnonzero(np.asarray(mask))
    labels = []
    for i in idx:
        label = f"{i + 1}"
        if spec.id_column and spec.id_column in df.columns:
            v = df[spec.id_column].iloc[i]
            if isinstance(v, str) and v:
                label += f" ({spec.id_column} {v})"
        labels.append(label)
    return labels


def parse_bool(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse yes/no values (see :mod:`layers.tristate`) into a nullable boolean.

    Returns the parsed series (unrecognised values read as unknown) and a mask of
    the values that could not be read, so the caller can report every one of them.
    """
    bad = invalid_tristate(series)
    parsed = to_tristate(series.mask(bad)) if bad.any() else to_tristate(series)
    return parsed, bad


def _shown(value) -> str:
    """A found value as people read it: ``2031`` rather than ``2031.0`` for a whole float."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return repr(int(value))
    return repr(value)


def _flag(
    col: _Collector,
    df: pd.DataFrame,
    spec: LayerSpec,
    c: Column,
    mask,
    found: pd.Series,
    summary: str,
    *,
    expected: str,
) -> None:
    """Report the rows of ``mask``: one problem listing them, or one per row (``c.per_row``)."""
    if not c.per_row:
        col.error(summary, column=c.name)
        return
    m = np.asarray(mask, dtype=bool)
    for label, value in zip(_row_labels(df, spec, m), found.to_numpy()[m], strict=True):
        col.error(f"expected {expected}, found {_shown(value)}", row=label, column=c.name)


def normalise_choice(series: pd.Series, column: Column) -> pd.Series:
    """Read a coded text column through its aliases (``"已脱贫"`` → ``"exited"``).

    The codes themselves are matched case-insensitively; blanks and the unknown
    placeholders (``未知``, ``unknown``…) become None (unknown). Anything else is
    returned as it was, so the choices check reports it.

    Parameters
    ----------
    series : pandas.Series
        Raw values.
    column : Column
        The spec column with ``choices`` and ``aliases``.

    Returns
    -------
    pandas.Series
        Object dtype: codes, None for unknown, unrecognised values unchanged.
    """
    table = {a.strip().lower(): b for a, b in column.aliases}
    table.update({ch.lower(): ch for ch in column.choices or ()})

    def one(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        text = str(v).strip()
        key = text.lower()
        if key in BOOL_UNKNOWN or key in UNKNOWN_TOKENS:
            return None
        return table.get(key, text)

    return series.astype(object).map(one)


def _coerce(df: pd.DataFrame, spec: LayerSpec, col: _Collector) -> pd.DataFrame:
    for c in spec.columns:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        if c.dtype == "str":
            s = s.where(~s.isna(), None)
            s = s.map(
                lambda v: (
                    v
                    if v is None
                    else (
                        str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                    ).strip()
                )
            )
            s = s.map(lambda v: None if v in ("", "nan", "None") else v)
            if c.aliases:
                s = normalise_choice(s, c)
            df[c.name] = s
        elif c.dtype == "bool":
            parsed, bad = parse_bool(s)
            if bad.any():
                found = list(dict.fromkeys(repr(v) for v in s[bad]))
                col.error(
                    f"{int(bad.sum())} value(s) are not yes/no (expected {TRISTATE_ACCEPTED}): "
                    f"rows {_listed(_row_labels(df, spec, bad))}; found {_listed(found)}",
                    column=c.name,
                )
            df[c.name] = parsed
        else:
            raw = s.map(lambda v: v.strip() if isinstance(v, str) else v)
            blank = raw.map(
                lambda v: (
                    (not isinstance(v, str) and pd.isna(v))
                    or (isinstance(v, str) and v.lower() in BOOL_UNKNOWN)
                )
            )
            num = pd.to_numeric(raw.where(~blank, np.nan), errors="coerce")
            bad = num.isna() & ~blank
            if bad.any():
                _flag(
                    col,
                    df,
                    spec,
                    c,
                    bad,
                    s,
                    f"{int(bad.sum())} value(s) are not numbers (expected {c.dtype}): rows "
                    f"{_listed(_row_labels(df, spec, bad))}; found e.g. {s[bad].iloc[0]!r}",
                    expected=f"a number ({c.dtype})",
                )
            # inf (a GeoPackage REAL, "inf" in a CSV) and numbers no whole number can hold
            # are refused here: later steps would overflow or count them as people
            limit = 2.0**53 if c.dtype == "int" else np.inf
            wild = num.notna() & ~(num.astype("float64").abs() < limit)
            if wild.any():
                _flag(
                    col,
                    df,
                    spec,
                    c,
                    wild,
                    num,
                    f"{int(wild.sum())} value(s) are infinite or too large (expected a finite "
                    f"{c.dtype}): rows {_listed(_row_labels(df, spec, wild))}; found e.g. "
                    f"{num[wild].iloc[0]:g}",
                    expected=f"a finite number ({c.dtype})",
                )
                num = num.where(~wild)
            if c.dtype == "int":
                frac = num.notna() & (num != np.round(num))
                if frac.any():
                    _flag(
                        col,
                        df,
                        spec,
                        c,
                        frac,
                        num,
                        f"{int(frac.sum())} value(s) are not whole numbers: rows {_listed(_row_labels(df, spec, frac))}",
                        expected="a whole number",
                    )
                if c.required and (blank | bad).any():
                    m = blank & ~bad
                    if m.any():
                        _flag(
                            col,
                            df,
                            spec,
                            c,
                            m,
                            s,
                            f"{int(m.sum())} empty value(s) in a required column: rows {_listed(_row_labels(df, spec, m))}",
                            expected="a value (the column is required)",
                        )
                df[c.name] = num.round().astype("Int64")
            else:
                df[c.name] = num.astype("float64")
            lo, hi = c.min, c.max
            if c.dtype == "frac":
                lo, hi = 0.0 if lo is None else lo, 1.0 if hi is None else hi
            vals = num.astype("float64")
            span = f"{lo:g}..{hi:g}" if lo is not None and hi is not None else None
            if lo is not None and (vals < lo).any():
                m = vals < lo
                _flag(
                    col,
                    df,
                    spec,
                    c,
                    m,
                    vals,
                    f"{int(m.sum())} value(s) below {lo:g} (expected {lo:g}..{hi if hi is not None else '∞'}): rows "
                    f"{_listed(_row_labels(df, spec, m))}; found e.g. {vals[m].iloc[0]:g}",
                    expected=span or f"at least {lo:g}",
                )
            if hi is not None and (vals > hi).any():
                m = vals > hi
                _flag(
                    col,
                    df,
                    spec,
                    c,
                    m,
                    vals,
                    f"{int(m.sum())} value(s) above {hi:g} (expected ≤ {hi:g}): rows {_listed(_row_labels(df, spec, m))}; "
                    f"found e.g. {vals[m].iloc[0]:g}",
                    expected=span or f"at most {hi:g}",
                )
    return df


def _check_choices(df, spec, col):
    for c in spec.columns:
        if c.choices is None or c.name not in df.columns:
            continue
        s = df[c.name]
        bad = s.notna() & ~s.isin(c.choices)
        if bad.any():
            found = sorted({str(v) for v in s[bad]})
            accepted = ", ".join(c.choices)
            if c.aliases:
                accepted += " (or " + ", ".join(f"{a} = {b}" for a, b in c.aliases) + ")"
            _flag(
                col,
                df,
                spec,
                c,
                bad,
                s,
                f"{int(bad.sum())} value(s) not among {accepted}: rows {_listed(_row_labels(df, spec, bad))}; "
                f"found {_listed(found)}",
                expected=f"one of {accepted}",
            )


def _normalise_roads(df: pd.DataFrame, *, infer_surface_from_class: bool) -> pd.DataFrame:
    if "road_class" in df.columns:
        df["road_class"] = df["road_class"].map(
            lambda v: (
                ROAD_CLASS_ALIASES.get(
                    str(v).strip().lower(), ROAD_CLASS_ALIASES.get(str(v).strip(), v)
                )
                if isinstance(v, str)
                else v
            )
        )
    if "surface" not in df.columns:
        df["surface"] = None
    df["surface"] = df["surface"].map(
        lambda v: (
            SURFACE_ALIASES.get(
                str(v).strip().lower(), SURFACE_ALIASES.get(str(v).strip(), "unknown")
            )
            if isinstance(v, str) and v.strip()
            else "unknown"
        )
    )
    hardened = pd.Series(pd.NA, index=df.index, dtype="boolean")
    known = df["surface"] != "unknown"
    hardened[known] = df.loc[known, "surface"].isin(HARDENED_SURFACES)
    inferred = pd.Series(False, index=df.index)
    if infer_surface_from_class:
        tt = df["tracktype"] if "tracktype" in df.columns else pd.Series(None, index=df.index)
        for i in df.index[~known]:
            guess = TRACKTYPE_HARDENED.get(tt[i]) if isinstance(tt[i], str) else None
            if guess is None:
                guess = HARDENED_BY_CLASS.get(df.at[i, "road_class"])
            if guess is not None:
                hardened[i] = guess
                inferred[i] = True
    df["hardened"] = hardened
    df["hardened_inferred"] = inferred
    return df


def _check_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, col: _Collector) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    null = geom.isna() | geom.is_empty
    if null.any():
        col.error(
            f"{int(null.sum())} feature(s) have no geometry: rows {_listed(_row_labels(gdf, spec, null))}"
        )
    types = geom.geom_type.fillna("").str.replace("Multi", "", regex=False)
    wrong = ~null & ~types.isin(spec.geometry)
    if wrong.any():
        found = sorted(set(geom.geom_type[wrong]))
        col.error(
            f"{int(wrong.sum())} feature(s) have geometry type {', '.join(found)}; expected "
            f"{' or '.join(spec.geometry)}: rows {_listed(_row_labels(gdf, spec, wrong))}"
        )
    invalid = ~null & ~wrong & ~geom.is_valid
    if invalid.any():
        repaired_ids, refused_ids = [], []
        new = geom.copy()
        for i in np.flatnonzero(invalid.to_numpy()):
            g = geom.iloc[i]
            fixed = shapely.make_valid(g)
            label = _row_labels(gdf, spec, np.arange(len(gdf)) == i)[0]
            reason = shapely.is_valid_reason(g)
            if g.geom_type.endswith("Polygon"):
                polys = shapely.get_parts(fixed)
                polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon")]
                fixed_poly = shapely.union_all(polys) if polys else None
                alt = g.buffer(0)
                a1 = fixed_poly.area if fixed_poly is not None else 0.0
                a2 = alt.area
                if fixed_poly is None or a1 <= 0 or abs(a1 - a2) > _REPAIR_AREA_TOL * max(a1, a2):
                    refused_ids.append(f"{label}: {reason}")
                    continue
                fixed = fixed_poly
            elif shapely.get_type_id(fixed) != shapely.get_type_id(
                g
            ) and not fixed.geom_type.startswith("Multi"):
                refused_ids.append(f"{label}: {reason}")
                continue
            new.iloc[i] = fixed
            repaired_ids.append(label)
        gdf = gdf.set_geometry(new)
        if repaired_ids:
            col.warn(
                f"repaired {len(repaired_ids)} invalid geometr{'y' if len(repaired_ids) == 1 else 'ies'} "
                f"(make_valid; area unchanged): rows {_listed(repaired_ids)}"
            )
        if refused_ids:
            col.error(
                f"{len(refused_ids)} invalid geometr{'y' if len(refused_ids) == 1 else 'ies'} that cannot be repaired "
                f"without changing their meaning (e.g. a self-intersecting 'bow-tie' polygon): rows "
                f"{_listed(refused_ids)}; fix them in the source file"
            )
    return gdf


def validate_layer(
    frame: pd.DataFrame | gpd.GeoDataFrame,
    kind: str,
    *,
    file: str,
    layer: str | None = None,
    renames: dict[str, str] | None = None,
    infer_surface_from_class: bool = True,
    near_lon: float | None = None,
) -> tuple[pd.DataFrame | gpd.GeoDataFrame, list[Problem]]:
    """Check one layer against the spec of ``kind``; return the cleaned frame and every problem.

    Parameters
    ----------
    frame
        As read by :func:`layers.readers.read_vector`.
    kind
        A key of :data:`layers.catalogue.SPECS`.
    file, layer
        Used in problem messages.
    renames
        User column → canonical column.
    infer_surface_from_class
        Roads only: apply the documented class → hardened rule to unknown surfaces.
    near_lon
        Longitude of the workspace's centre, when known: lets a coordinate error name
        the Gauss-Krüger zone that metres declared as degrees are probably in.
    """
    spec = SPECS[kind]
    col = _Collector(file, layer or kind)
    df = apply_renames(frame.copy(), kind, renames, col)
    if len(df) == 0:
        col.error("the layer is empty (no features or rows)")
        return df, col.items
    missing = [c for c in spec.required_columns if c not in df.columns]
    present = [c for c in df.columns if c != "geometry"]
    for m in missing:
        col.error(
            f"required column missing; columns present: {_listed(present)} "
            f"(map a column to {m!r} with [layers.{kind}.rename] in workspace.toml)",
            column=m,
        )
    if kind == "roads":
        df = _normalise_roads(df, infer_surface_from_class=infer_surface_from_class)
    df = _coerce(df, spec, col)
    _check_choices(df, spec, col)
    if spec.id_column and spec.id_column in df.columns:
        ids = df[spec.id_column]
        empty = ids.isna()
        if empty.any():
            col.error(
                f"{int(empty.sum())} empty id(s): rows {_listed(_row_labels(df, spec, empty))}",
                column=spec.id_column,
            )
        dup = ids.notna() & ids.duplicated(keep=False)
        if dup.any():
            col.error(
                f"duplicate ids: {_listed(sorted(set(ids[dup])))} ({int(dup.sum())} rows share them)",
                column=spec.id_column,
            )
    if kind == "villages" and {"population", "poor_population"} <= set(df.columns):
        m = (df["poor_population"] > df["population"]).fillna(False).to_numpy(bool)
        if m.any():
            ex = df.loc[m].iloc[0]
            col.error(
                f"{int(m.sum())} village(s) have more registered poor than people (poor_population > population): rows "
                f"{_listed(_row_labels(df, spec, m))}; e.g. {ex['poor_population']} > {ex['population']}",
                column="poor_population",
            )
    if kind == "villages" and {"population", "households"} <= set(df.columns):
        m = (df["households"] > df["population"]).fillna(False).to_numpy(bool)
        if m.any():
            col.error(
                f"{int(m.sum())} village(s) have more households than people: rows {_listed(_row_labels(df, spec, m))}",
                column="households",
            )
    if kind == "villages":
        _check_hamlets(df, spec, col)
    if kind == "households":
        _check_register(df, spec, col)
    if spec.geometry and spec.geometry != ("raster",):
        if not isinstance(df, gpd.GeoDataFrame) or df.geometry.name not in df.columns:
            col.error(f"the layer has no geometry; expected {' or '.join(spec.geometry)} features")
            return df, col.items
        if df.crs is None:
            col.error(
                "the layer has no CRS (no .prj / srs); refusing to guess one — add the .prj or set crs in workspace.toml"
            )
        else:
            valid_geom = df.geometry[~(df.geometry.isna() | df.geometry.is_empty)]
            if len(valid_geom):
                msg = check_bounds(tuple(valid_geom.total_bounds), df.crs, near_lon=near_lon)
                if msg:
                    col.error(msg)
        df = _check_geometry(df, spec, col)
        if kind == "villages":
            df = _check_village_places(df, spec, col)
        if kind == "hazards" and "radius_m" in df.columns:
            pts = df.geometry.geom_type.isin(["Point", "MultiPoint"]) & df["radius_m"].isna()
            if pts.any():
                col.error(
                    f"{int(pts.sum())} point hazard(s) without radius_m (a point hazard needs a radius): rows "
                    f"{_listed(_row_labels(df, spec, pts))}",
                    column="radius_m",
                )
        elif kind == "hazards" and df.geometry.geom_type.isin(["Point", "MultiPoint"]).any():
            col.error("point hazards need a radius_m column", column="radius_m")
    return _add_missing_optional(df, spec), col.items


def _check_village_places(
    df: gpd.GeoDataFrame, spec: LayerSpec, col: _Collector
) -> gpd.GeoDataFrame:
    """MultiPoint villages, all villages on one place, no people at all.

    A village is one place: a MultiPoint of one point (or of copies of one) becomes that
    point, with a warning; one of several distinct points is refused (exploding it would
    repeat the village's id and count its people once per point).
    """
    geom = df.geometry
    multi = (geom.geom_type == "MultiPoint").to_numpy()
    if multi.any():
        single = np.zeros(len(df), dtype=bool)
        new = geom.copy()
        for i in np.flatnonzero(multi):
            parts = shapely.get_parts(shapely.normalize(geom.iloc[i]))
            distinct = {p.wkb for p in parts}
            if len(distinct) == 1:
                new.iloc[i] = parts[0]
                single[i] = True
        several = multi & ~single
        if several.any():
            col.error(
                f"{int(several.sum())} village(s) are MultiPoints of several places; expected one "
                f"point (or polygon) per village: rows {_listed(_row_labels(df, spec, several))}"
            )
        if single.any():
            df = df.set_geometry(new)
            col.warn(
                f"{int(single.sum())} village(s) were MultiPoints of one place, read as that "
                f"point: rows {_listed(_row_labels(df, spec, single))}"
            )
    places = df.geometry[~(df.geometry.isna() | df.geometry.is_empty)]
    pointy = places.geom_type.isin(["Point", "MultiPoint"])
    if pointy.any() and not pointy.all():
        polys = df.index.isin(places.index[~pointy])
        col.error(
            f"the layer mixes points ({int(pointy.sum())}) and polygons ({int((~pointy).sum())}); "
            "expected all villages as points (catchments are derived) or all as polygons: "
            f"polygon rows {_listed(_row_labels(df, spec, polys))}"
        )
    if len(places) > 1 and len({g.wkb for g in shapely.normalize(places.to_numpy())}) == 1:
        col.warn(
            f"all {len(places)} villages lie on one and the same place; distances, travel "
            "times and terrain statistics cannot tell them apart (coordinates lost in export?)"
        )
    if "population" in df.columns:
        pop = pd.to_numeric(df["population"], errors="coerce")
        if pop.notna().any() and float(pop.fillna(0).sum()) == 0.0:
            col.warn(
                "the total population is 0; coverage shares, relocation and siting count no people",
                column="population",
            )
    return df


# Counts an administrative village holds for its hamlets too (it includes them).
_HAMLET_SUMMED = ("population", "households", "poor_population", "poor_households")


def _check_hamlets(df: pd.DataFrame, spec: LayerSpec, col: _Collector) -> None:
    """Hamlets (level hamlet) against their administrative villages (parent_id).

    The convention: a hamlet (自然村) is part of the administrative village (行政村) named
    by its ``parent_id``, and the administrative village's population, households and
    poor counts include the hamlet's. So a hamlet needs a parent that is an administrative
    village of this layer, and an administrative village can never count fewer people than
    its hamlets together (the sign of a layer that adds hamlets on top instead).
    One problem per row.
    """
    if not {"level", "parent_id", "village_id"} <= set(df.columns):
        return
    level = df["level"]
    hamlet = (level == "hamlet").fillna(False).to_numpy(bool)
    if not hamlet.any():
        return
    ids = df["village_id"]
    level_of = {v: lv for v, lv in zip(ids, level, strict=True) if isinstance(v, str) and v}
    expected = "the village_id of its administrative village (a row of this layer with level admin)"
    labels = _row_labels(df, spec, hamlet)
    rows = np.flatnonzero(hamlet)
    parents = df["parent_id"].to_numpy(dtype=object)
    good_parent = np.zeros(len(df), dtype=bool)
    for i, label in zip(rows, labels, strict=True):
        par = parents[i]
        if par is None or (not isinstance(par, str) and pd.isna(par)) or par == "":
            col.error(
                f"a hamlet without parent_id: expected {expected}, found empty",
                row=label,
                column="parent_id",
            )
        elif par not in level_of:
            col.error(
                f"a hamlet's parent_id is not in the layer: expected {expected}, found {par!r}",
                row=label,
                column="parent_id",
            )
        elif level_of[par] == "admin":
            good_parent[i] = True
        elif level_of[par] == "hamlet":
            col.error(
                f"a hamlet's parent_id names another hamlet: expected {expected}, found {par!r} (level hamlet)",
                row=label,
                column="parent_id",
            )
        else:
            lv = level_of[par]
            shown = "empty" if lv is None or (not isinstance(lv, str) and pd.isna(lv)) else repr(lv)
            col.warn(
                f"a hamlet's parent_id names a village whose level is not admin: expected {expected}, "
                f"found {par!r} with level {shown}",
                row=label,
                column="parent_id",
            )
    if not good_parent.any():
        return
    # an administrative village includes its hamlets: it never counts fewer than they do together
    admin_pos = {
        v: i
        for i, (v, lv) in enumerate(zip(ids, level, strict=True))
        if lv == "admin" and isinstance(v, str)
    }
    kids = pd.Series(parents[good_parent], index=df.index[good_parent])
    for name in _HAMLET_SUMMED:
        if name not in df.columns:
            continue
        vals = pd.to_numeric(df[name], errors="coerce").astype("float64")
        sums = vals[good_parent].groupby(kids.to_numpy()).sum(min_count=1)
        n_kids = kids.groupby(kids.to_numpy()).size()
        for par, total in sums.items():
            j = admin_pos[str(par)]
            own = vals.iloc[j]
            if np.isnan(total) or np.isnan(own) or own >= total:
                continue
            label = _row_labels(df, spec, np.arange(len(df)) == j)[0]
            col.error(
                f"an administrative village's {name} is smaller than the sum over its "
                f"{int(n_kids[par])} hamlet(s): expected at least {total:g} (an administrative "
                f"village's {name} includes its hamlets'), found {own:g}",
                row=label,
                column=name,
            )
    if "poverty_village" in df.columns:
        flag = df["poverty_village"]
        pos = np.flatnonzero(good_parent)
        for k, label in zip(pos, _row_labels(df, spec, good_parent), strict=True):
            mine, theirs = flag.iloc[k], flag.iloc[admin_pos[parents[k]]]
            if pd.isna(mine) or pd.isna(theirs) or bool(mine) == bool(theirs):
                continue
            col.warn(
                f"a hamlet's poverty_village disagrees with its administrative village "
                f"{parents[k]}: expected {bool(theirs)} (the register names administrative "
                f"villages; a hamlet carries its parent's flag or none), found {bool(mine)}",
                row=label,
                column="poverty_village",
            )


def _check_register(df: pd.DataFrame, spec: LayerSpec, col: _Collector) -> None:
    """A register status or exit year belongs to a registered poor household (warning per row)."""
    if "registered_poor" not in df.columns:
        return
    poor = df["registered_poor"]
    if not isinstance(poor.dtype, pd.BooleanDtype):
        return
    given = [c for c in ("register_status", "exit_year") if c in df.columns]
    for c in given:
        has = df[c].notna().to_numpy(bool)
        m = has & (~poor).fillna(False).to_numpy(bool)
        if not m.any():
            continue
        for label, value in zip(
            _row_labels(df, spec, m), df[c].to_numpy(dtype=object)[m], strict=True
        ):
            col.warn(
                f"{c} given for a household that is not registered poor (registered_poor false): "
                f"expected {c} only on registered poor households, found {_shown(value)}",
                row=label,
                column=c,
            )


_NA_DTYPE = {
    "bool": "boolean",
    "int": "Int64",
    "float": "float64",
    "frac": "float64",
    "str": "object",
}


def _add_missing_optional(df: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    """Optional columns the file lacks become all-missing columns of their type.

    A village layer without ``has_safe_water`` then says "unknown" for every village
    (never "met"), and later stages can read the column without special cases.
    """
    for c in spec.columns:
        if c.name not in df.columns:
            fill = {"bool": pd.NA, "int": pd.NA, "str": None}.get(c.dtype, np.nan)
            df[c.name] = pd.Series(fill, index=df.index, dtype=_NA_DTYPE[c.dtype])
    return df
