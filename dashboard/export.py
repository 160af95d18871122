"""Export a table or layer selection as CSV (UTF-8 with BOM), XLSX or GeoJSON bytes."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import pandas as pd

from dashboard.plan import PERSONAL_COLUMNS, json_value
from dashboard.viewmodels import to_geojson


def _table(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(df.drop(columns=["geometry"], errors="ignore"))
    return out.drop(columns=[c for c in PERSONAL_COLUMNS if c in out.columns])


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a BOM (so Excel shows Chinese text), geometry dropped."""
    return _table(df).to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(df: pd.DataFrame, *, sheet: str = "data") -> bytes:
    """An XLSX workbook with one sheet, geometry dropped; nullable values as blanks."""
    buf = io.BytesIO()
    tab = _table(df).astype(object).where(_table(df).notna(), None)
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        tab.to_excel(xl, sheet_name=sheet[:31], index=False)
    return buf.getvalue()


def to_geojson_bytes(gdf: gpd.GeoDataFrame) -> bytes:
    """A GeoJSON FeatureCollection in EPSG:4326 (UTF-8, Chinese kept readable)."""
    g = gdf.drop(columns=[c for c in PERSONAL_COLUMNS if c in gdf.columns])
    if g.crs is not None and g.crs.to_epsg() != 4326:
        g = g.to_crs("EPSG:4326")
    cols = [c for c in g.columns if c != g.geometry.name]
    gj = to_geojson(g, columns=cols)
    return json.dumps(gj, ensure_ascii=False, default=json_value).encode("utf-8")


def export_bytes(gdf: gpd.GeoDataFrame, fmt: str) -> tuple[bytes, str]:
    """Bytes and file extension for ``fmt`` in ``csv``, ``xlsx``, ``geojson``.

    Raises
    ------
    ValueError
        For any other format.
    """
    if fmt == "csv":
        return to_csv_bytes(gdf), "csv"
    if fmt == "xlsx":
        return to_xlsx_bytes(gdf), "xlsx"
    if fmt == "geojson":
        return to_geojson_bytes(gdf), "geojson"
    raise ValueError(f"export format: expected csv, xlsx or geojson, found {fmt!r}")
