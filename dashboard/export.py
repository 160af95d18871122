"""Export a table selection as CSV (UTF-8 with BOM), XLSX or GeoJSON bytes.

What a bureau downloads reads like the table on its page (:func:`export_frame`):

- headers in the user's language (Chinese in zh mode, English in en), from the i18n keys
  the page's grid uses (``keys``: field → key of :func:`dashboard.i18n.t`);
- values rounded as the bureau reads them: km and minutes to 1 decimal, fractions as
  percent with 1 decimal (the header says "%"), people as integers, metres as integers;
  yes/no/unknown as words (an unknown is written "未知"/"unknown", never left as a blank
  that reads like "no"); a missing number stays blank, never 0;
- personal columns (:data:`layers.catalogue.PERSONAL_COLUMNS`: household heads' names, ID
  numbers, phones) never exported, whatever the caller passes; nor hidden fields
  (``_``-prefixed) or the geometry (except as the GeoJSON's geometry).

The XLSX holds the table twice, like the plan's own ``tables/*.xlsx``
(:func:`layers.plan._write_table`): a ``中文`` sheet and an ``en`` sheet, the user's
language first.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboard.i18n import has_key, t
from dashboard.plan import PERSONAL_COLUMNS, json_value
from dashboard.viewmodels import to_bool
from layers.plan import XLSX_TEXT_ONLY, spreadsheet_safe

#: Sheet names of the XLSX, as in the plan's own tables.
SHEETS = {"zh": "中文", "en": "en"}
#: Columns counted in people (written as integers).
PEOPLE_COLUMNS = frozenset(
    {
        "population",
        "poor_population",
        "households",
        "poor_households",
        "people_served",
        "people_not_met",
        "people_to_move",
        "people_to_move_poor",
        "people_to_move_other",
        "assigned_people",
        "capacity_people",
    }
)


def is_personal(column: str) -> bool:
    """Whether a column holds personal data (never exported)."""
    c = str(column).lower()
    return c in PERSONAL_COLUMNS or any(c.endswith(f"_{p}") for p in PERSONAL_COLUMNS)


def column_kind(column: str) -> str:
    """How a column's numbers are rounded: ``people``, ``frac`` (percent, 1 decimal),
    ``km`` (1 decimal: km, per km, minutes), ``m`` (metres, integers) or ``other`` (2 decimals)."""
    c = str(column)
    if c in PEOPLE_COLUMNS:
        return "people"
    if c.endswith("_frac"):
        return "frac"
    if c.endswith("_km") or c.startswith("travel_min") or c.endswith("_min"):
        return "km"
    if c.endswith("_m"):
        return "m"
    return "other"


def _is_bool_column(s: pd.Series) -> bool:
    if s.dtype == bool or str(s.dtype) == "boolean":
        return True
    if s.dtype != object:
        return False
    known = s.dropna()
    return len(known) > 0 and known.map(lambda v: isinstance(v, bool | np.bool_)).all()


def _round(s: pd.Series, kind: str) -> pd.Series:
    if pd.api.types.is_integer_dtype(s) and kind != "frac":
        return s.astype("Int64")  # counts, ranks: whole numbers stay whole
    x = pd.to_numeric(s, errors="coerce").astype(float)
    if kind in ("people", "m"):
        return x.round(0).astype("Int64")
    if kind == "frac":
        return (100 * x).round(1)
    if kind == "km":
        r = x.round(1)
        # a positive amount never rounds to 0 (0.03 km of gap is not "no gap")
        return r.where(~((r == 0) & (x.abs() > 0)), x.round(3))
    return x.round(2)


def header(column: str, lang: str = "zh", keys: Mapping[str, str] | None = None) -> str:
    """The header of ``column`` in ``lang``: its key in ``keys`` (else the column itself
    when it is an i18n key, else the column name), with "（%）"/" (%)" for a fraction."""
    key = (keys or {}).get(column, column)
    text = t(key, lang) if has_key(key) else str(key)
    if column_kind(column) == "frac" and "%" not in text:
        text += " (%)" if lang == "en" else "（%）"
    return text


def export_frame(
    df: pd.DataFrame,
    lang: str = "zh",
    *,
    columns: Sequence[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The table as exported: ``columns`` (default: all) in that order, less the geometry,
    hidden (``_``) and personal columns; values rounded and yes/no written out in ``lang``;
    headers in ``lang`` (:func:`header`; made unique when two fields share a label)."""
    cols = list(columns) if columns is not None else list(df.columns)
    cols = [
        c
        for c in cols
        if c in df.columns and c != "geometry" and not str(c).startswith("_") and not is_personal(c)
    ]
    out = pd.DataFrame(index=df.index)
    for c in cols:
        s = df[c]
        if _is_bool_column(s):
            out[c] = [
                t("unknown", lang) if b is None else t("yes" if b else "no", lang)
                for b in (to_bool(v) for v in s)
            ]
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[c] = _round(s, column_kind(c))
        else:
            out[c] = s.map(lambda v: v if json_value(v) is not None else None).astype(object)
    names: list[str] = []
    for c in cols:
        h = header(c, lang, keys)
        names.append(h if h not in names else f"{h} ({c})")
    out.columns = names
    return out.reset_index(drop=True)


def _frames(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """``{"zh": table, "en": table}``: one table per language (a single table serves both)."""
    if isinstance(tables, pd.DataFrame):
        return {"zh": tables, "en": tables}
    got = dict(tables)
    first = next(iter(got.values()))
    return {lg: got.get(lg, first) for lg in ("zh", "en")}


def to_csv_bytes(
    df: pd.DataFrame,
    lang: str = "zh",
    *,
    columns: Sequence[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> bytes:
    """CSV in UTF-8 with a BOM (so Excel shows Chinese text), headers in ``lang``."""
    frame = spreadsheet_safe(export_frame(df, lang, columns=columns, keys=keys))
    return frame.to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
    lang: str = "zh",
    *,
    columns: Sequence[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> bytes:
    """An XLSX workbook with a ``中文`` and an ``en`` sheet (``lang``'s first), each with
    its language's table (``tables[lang]``) and headers; blanks where a number is missing."""
    frames = _frames(tables)
    order = [lang, *[lg for lg in ("zh", "en") if lg != lang]] if lang in SHEETS else ["zh", "en"]
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter", engine_kwargs=XLSX_TEXT_ONLY) as xl:
        for lg in order:
            tab = export_frame(frames[lg], lg, columns=columns, keys=keys)
            tab = tab.astype(object).where(tab.notna(), None)
            tab.to_excel(xl, sheet_name=SHEETS[lg], index=False)
    return buf.getvalue()


def to_geojson_bytes(
    gdf: gpd.GeoDataFrame,
    lang: str = "zh",
    *,
    columns: Sequence[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> bytes:
    """A GeoJSON FeatureCollection in EPSG:4326 (UTF-8, Chinese kept readable), properties
    as in :func:`export_frame` (named in ``lang``)."""
    g = gdf
    if g.crs is not None and g.crs.to_epsg() != 4326:
        g = g.to_crs("EPSG:4326")
    props = export_frame(
        pd.DataFrame(g.drop(columns=g.geometry.name)), lang, columns=columns, keys=keys
    )
    records = props.to_dict("records")
    features = []
    for geom, rec in zip(g.geometry.to_numpy(), records, strict=True):
        features.append(
            {
                "type": "Feature",
                "geometry": None if geom is None or geom.is_empty else geom.__geo_interface__,
                "properties": {k: json_value(v) for k, v in rec.items()},
            }
        )
    gj = {"type": "FeatureCollection", "features": features}
    return json.dumps(gj, ensure_ascii=False, default=json_value).encode("utf-8")


def export_bytes(
    tables: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    fmt: str,
    lang: str = "zh",
    *,
    columns: Sequence[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> tuple[bytes, str]:
    """Bytes and file extension for ``fmt`` in ``csv``, ``xlsx``, ``geojson``.

    ``tables`` is the table in each language (``{"zh": ..., "en": ...}``) or one table
    for both; CSV and GeoJSON write ``lang``'s, the XLSX both.

    Raises
    ------
    ValueError
        For any other format.
    """
    if fmt not in ("csv", "xlsx", "geojson"):
        raise ValueError(f"export format: expected csv, xlsx or geojson, found {fmt!r}")
    frames = _frames(tables)
    own = frames["en" if lang == "en" else "zh"]
    if fmt == "csv":
        return to_csv_bytes(own, lang, columns=columns, keys=keys), "csv"
    if fmt == "xlsx":
        return to_xlsx_bytes(frames, lang, columns=columns, keys=keys), "xlsx"
    return to_geojson_bytes(own, lang, columns=columns, keys=keys), "geojson"
