"""PostGIS as the shared plan store: a schema per workspace, one transaction per version.

Layout (every identifier quoted with :class:`psycopg.sql.Identifier`; nothing a user
typed is formatted into SQL text)::

    anju.workspaces            name → schema (the catalogue of published workspaces)
    <schema>.versions          version_id, published, manifest (JSONB), indicators (JSONB),
                               layers / tables (JSONB: name → table, columns, rows),
                               allow_personal, source
    <schema>.current           one row: the version readers are given
    <schema>.v<N>_<layer>      each plan layer of version N: its columns, ``geom`` in the
                               plan's storage CRS (EPSG:4490) with a GiST index
    <schema>.v<N>_t_<table>    each bureau table of version N (``tables/<table>.csv``)
    <schema>.rasters           version_id, name, GeoTIFF bytes
    <schema>.files             version_id, path, bytes: every other file of the plan
                               directory (``tables/*.csv|xlsx``, ``web/*.tif``...)

**One transaction per plan.** :meth:`PostgisStore.write` creates version N's tables,
fills them with ``COPY``, inserts its rasters and files and its ``versions`` row, then
points ``current`` at N, all in one transaction: until it commits, no other session sees
any of it, so a reader always gets the whole previous plan or the whole new one. Version
tables are never changed after they commit, so a reader that took N from ``current``
reads N to the end even while N+1 is being published. Writers of one workspace queue on
a transaction-level advisory lock (version ids stay dense).

**Rasters are stored as bytes in the database** (the GeoTIFF files ``anju run`` wrote:
tiled, compressed, with overviews), not as paths: a shared store is read by dashboards
on other machines that do not share the writer's disk, and bytes are covered by the
same transaction as the vectors (a path could point at a file that was overwritten or
never copied). Readers unpack them once per version into a local cache folder, because
the tile server (rio-tiler) and the scenario re-runs read raster files.

**Personal data.** Household names, ID numbers and phones
(:data:`layers.catalogue.PERSONAL_COLUMNS`) are left out of every layer and table unless
the plan is published with ``allow_personal=True`` (``anju run --allow-personal``), and
the files of a table holding them are then not stored either.

:class:`PostgisHistory` exposes the stored versions through
:class:`layers.history.PlanHistory` (``anju history`` / ``anju diff`` against the store).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import rasterio
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pyproj import CRS

from layers.catalogue import PERSONAL_COLUMNS
from layers.crs import STORAGE_CRS
from layers.errors import LayerNotFoundError, LayerSchemaError
from layers.grid import Grid
from layers.history import (
    PlanHistory,
    Version,
    VersionNotFoundError,
    VillageStates,
    _indicator_list,
    _states_from_layers,
    _version_from_manifest,
)
from layers.plan import PlanOutput, _gpkg_safe, open_plan, write_plan
from layers.settings import Settings, settings_from_dict
from layers.store import PlanStore, StoreError, redact

__all__ = ["PostgisHistory", "PostgisPlan", "PostgisStore", "schema_name"]

CATALOGUE = "anju"
#: PostgreSQL truncates identifiers longer than this (bytes): refused instead.
MAX_IDENT = 63
_GEOM = "geom"


def schema_name(workspace: str) -> str:
    """The schema of a workspace: ``ws_`` + its name in ``[a-z0-9_]``; a name that had to
    be changed to fit (Chinese, spaces, capitals) also gets 8 hex digits of its SHA-1, so
    two workspaces never share a schema.

    Raises
    ------
    StoreError
        For an empty name.
    """
    name = workspace.strip()
    if not name:
        raise StoreError("workspace name: expected a non-empty name, found ''")
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:40]
    if slug != name:
        slug = f"{slug}_{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}".lstrip("_")
    return f"ws_{slug}"


def _pg_type(dtype: Any, declared: str | None) -> str:
    """The column type for a pandas dtype (``declared``: the GeoPackage field type)."""
    if declared == "bool" or pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamptz"
    return "text"


def _cell(v: Any, kind: str) -> Any:
    """A Python value COPY can send for a column of ``kind`` (NaN/NA → NULL)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating) and not np.isfinite(v):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.generic):
        v = v.item()
    if kind == "boolean":
        return bool(v)
    if kind == "bigint":
        return int(v)
    if kind == "double precision":
        return float(v)
    if kind == "text" and not isinstance(v, str):
        return str(v)
    return v


def _check_ident(what: str, name: str) -> None:
    if len(name.encode("utf-8")) > MAX_IDENT:
        raise LayerSchemaError(
            f"{what} {name!r}: expected a name of at most {MAX_IDENT} bytes (PostgreSQL's "
            f"limit), found {len(name.encode('utf-8'))}"
        )


@dataclass
class _Frame:
    """A layer or table as it will be stored: data, column types, geometry or not."""

    name: str
    table: str
    data: pd.DataFrame
    types: dict[str, str]
    geometry: gpd.GeoSeries | None = None


class PostgisStore(PlanStore):
    """Plans in a PostgreSQL database with PostGIS (see the module docstring).

    Parameters
    ----------
    url
        A libpq URL, ``postgresql://user:password@host:port/db`` (or ``?host=/socket/dir``).
    pool_size
        Most connections the readers' pool opens (the writer uses its own).
    cache_dir
        Where readers unpack rasters and table files; a private temporary folder when None.
    connect_timeout
        Seconds to wait for the server.

    Raises
    ------
    StoreError
        When the URL is malformed, the server cannot be reached or PostGIS is missing
        (one line; the password is never part of it).
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        cache_dir: str | Path | None = None,
        connect_timeout: int = 10,
    ):
        self.url = url.strip()
        self.location = redact(self.url)
        self._secret = urlsplit(self.url).password or ""
        self._timeout = connect_timeout
        self._pool_size = max(1, int(pool_size))
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._unpack_lock = threading.Lock()
        self._cache_root = Path(cache_dir) if cache_dir else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        with self._connect() as conn:
            try:
                conn.execute("SELECT postgis_version()")
            except psycopg.Error as exc:
                raise StoreError(
                    f"--store {self.location}: expected a database with the PostGIS extension "
                    f"(CREATE EXTENSION postgis), found: {self._say(exc)}"
                ) from None

    # -- plumbing

    def _say(self, exc: BaseException) -> str:
        """The first line of a driver error, with the password and URL hidden."""
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if self._secret:
            text = text.replace(self._secret, "***")
        return text.replace(self.url, self.location)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, connect_timeout=self._timeout)
        except (psycopg.Error, ValueError) as exc:
            raise StoreError(f"--store {self.location}: cannot connect: {self._say(exc)}") from None

    @property
    def pool(self) -> ConnectionPool:
        """The readers' connection pool (opened on first use)."""
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self._pool_size,
                    kwargs={"connect_timeout": self._timeout},
                    open=False,
                    name="anju-store",
                )
                self._pool.open(wait=True, timeout=self._timeout)
            return self._pool

    def close(self) -> None:
        """Close the pool and remove a private cache folder."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def cache_root(self) -> Path:
        """Where versions are unpacked for readers."""
        if self._cache_root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="anju-store-")
            self._cache_root = Path(self._tmp.name)
        return self._cache_root

    def _read(self, query: sql.Composed | sql.SQL | str, params: Iterable[Any] = ()) -> list[tuple]:
        try:
            with self.pool.connection() as conn:
                return conn.execute(query, tuple(params)).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"store {self.location}: cannot read: {self._say(exc)}") from None

    # -- workspaces

    def workspaces(self) -> dict[str, str]:
        """Published workspace name → schema."""
        rows = self._read(
            "SELECT to_regclass('anju.workspaces') IS NOT NULL",
        )
        if not rows[0][0]:
            return {}
        return dict(self._read("SELECT name, schema FROM anju.workspaces ORDER BY name"))

    def _schema(self, workspace: str | None) -> tuple[str, str]:
        """(name, schema) of a published workspace; the only one when ``workspace`` is None.

        Raises
        ------
        StoreError
            When the workspace is not published (the message lists those that are).
        """
        known = self.workspaces()
        if workspace is None:
            if len(known) == 1:
                return next(iter(known.items()))
            found = ", ".join(known) or "none"
            raise StoreError(
                f"store {self.location}: expected --workspace NAME (published: {found})"
            )
        if workspace not in known:
            raise StoreError(
                f"store {self.location}: expected a published workspace, found {workspace!r}; "
                f"published: {', '.join(known) or 'none yet (anju run WS --out OUT --store URL)'}"
            )
        return workspace, known[workspace]

    def _bootstrap(self, conn: psycopg.Connection[Any], workspace: str, schema: str) -> None:
        """Create the catalogue and the workspace's schema and fixed tables (own transaction)."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('anju:catalogue'))")
            conn.execute("CREATE SCHEMA IF NOT EXISTS anju")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS anju.workspaces (name text PRIMARY KEY, "
                "schema text UNIQUE NOT NULL, created timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute(
                "SELECT name FROM anju.workspaces WHERE schema = %s", (schema,)
            ).fetchone()
            if row is not None and row[0] != workspace:
                raise StoreError(
                    f"store {self.location}: schema {schema} already holds workspace {row[0]!r}; "
                    f"expected {workspace!r} (choose another workspace name)"
                )
            s = sql.Identifier(schema)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.versions (version_id integer PRIMARY KEY, "
                    "published timestamptz NOT NULL DEFAULT now(), plan_created text, "
                    "plan_format integer, srid integer NOT NULL, manifest jsonb NOT NULL, "
                    "indicators jsonb NOT NULL, layers jsonb NOT NULL, tables jsonb NOT NULL, "
                    "allow_personal boolean NOT NULL, source text, workspace_toml_sha256 text)"
                ).format(s)
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.current (only_row boolean PRIMARY KEY "
                    "DEFAULT true CHECK (only_row), version_id integer NOT NULL "
                    "REFERENCES {}.versions)"
                ).format(s, s)
            )
            for name, col in (("rasters", "name"), ("files", "path")):
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {}.{} (version_id integer NOT NULL "
                        "REFERENCES {}.versions, {} text NOT NULL, data bytea NOT NULL, "
                        "PRIMARY KEY (version_id, {}))"
                    ).format(s, sql.Identifier(name), s, sql.Identifier(col), sql.Identifier(col))
                )
            conn.execute(
                "INSERT INTO anju.workspaces (name, schema) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (workspace, schema),
            )

    # -- writing

    def write(
        self,
        source: PlanOutput | str | Path,
        workspace: str,
        *,
        allow_personal: bool = False,
        before_commit: Callable[[int], None] | None = None,
    ) -> int:
        """Publish a plan as the workspace's next version, in one transaction.

        Parameters
        ----------
        source
            A plan directory written by ``anju run`` (what is published is what it holds),
            or a :class:`~layers.plan.PlanOutput` (written to a temporary directory first).
        workspace
            The workspace name (its schema: :func:`schema_name`).
        allow_personal
            Keep household names, ID numbers and phones; left out otherwise.
        before_commit
            Called with the new version id once everything is written and before the
            ``current`` pointer moves and the transaction commits (tests hold it open).

        Returns
        -------
        int
            The new version id.

        Raises
        ------
        StoreError
            When the database refuses (nothing is published: the transaction rolls back).
        LayerNotFoundError, LayerSchemaError
            When ``source`` is not a readable plan.
        """
        if isinstance(source, PlanOutput):
            with tempfile.TemporaryDirectory(prefix="anju-publish-") as tmp:
                write_plan(Path(tmp) / "plan", source)
                return self.write(
                    Path(tmp) / "plan",
                    workspace,
                    allow_personal=allow_personal,
                    before_commit=before_commit,
                )
        plan = open_plan(source)
        schema = schema_name(workspace)
        frames, tables, rasters, files = _collect(plan.plan_dir, plan.layer_names, allow_personal)
        srid = STORAGE_CRS.to_epsg()
        # the workspace.toml as it is now, kept with the version (a later edit must not
        # change what `anju history` says this version was made from)
        toml_sha = _version_from_manifest(
            plan.plan_dir, plan.manifest, plan.indicators
        ).workspace_toml_sha256
        s = sql.Identifier(schema)
        conn = self._connect()
        try:
            self._bootstrap(conn, workspace, schema)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"anju:{schema}",))
                row = conn.execute(
                    sql.SQL("SELECT coalesce(max(version_id), 0) + 1 FROM {}.versions").format(s)
                ).fetchone()
                vid = int(row[0]) if row else 1
                layer_meta = {
                    f.name: self._copy(conn, schema, f"v{vid}_{f.name}", f, srid) for f in frames
                }
                table_meta = {
                    f.name: self._copy(conn, schema, f"v{vid}_t_{f.name}", f, srid) for f in tables
                }
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.versions (version_id, plan_created, plan_format, srid, "
                        "manifest, indicators, layers, tables, allow_personal, source, "
                        "workspace_toml_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    ).format(s),
                    (
                        vid,
                        str(plan.manifest.get("created") or ""),
                        plan.manifest.get("plan_format"),
                        srid,
                        Jsonb(plan.manifest),
                        Jsonb(plan.indicators),
                        Jsonb(layer_meta),
                        Jsonb(table_meta),
                        allow_personal,
                        str(plan.plan_dir),
                        toml_sha,
                    ),
                )
                with conn.cursor() as cur:
                    for table, items in (("rasters", rasters), ("files", files)):
                        cur.executemany(
                            sql.SQL("INSERT INTO {}.{} VALUES (%s, %s, %s)").format(
                                s, sql.Identifier(table)
                            ),
                            [(vid, k, v) for k, v in items.items()],
                        )
                if before_commit is not None:
                    before_commit(vid)
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.current (only_row, version_id) VALUES (true, %s) "
                        "ON CONFLICT (only_row) DO UPDATE SET version_id = EXCLUDED.version_id"
                    ).format(s),
                    (vid,),
                )
        except psycopg.Error as exc:
            raise StoreError(
                f"store {self.location}: could not publish {plan.plan_dir} as workspace "
                f"{workspace!r} ({self._say(exc)}); nothing was changed"
            ) from None
        finally:
            conn.close()
        return vid

    def _copy(
        self, conn: psycopg.Connection[Any], schema: str, table: str, f: _Frame, srid: int | None
    ) -> dict[str, Any]:
        """Create ``schema.table`` for ``f`` and COPY its rows in; GiST index on ``geom``."""
        _check_ident("table", table)
        for c in f.types:
            _check_ident(f"plan {f.name!r}, column", c)
            if c in ("fid", _GEOM):
                raise LayerSchemaError(
                    f"plan {f.name!r}, column {c!r}: expected a name other than the store's own "
                    f"columns fid and {_GEOM}, found {c!r}"
                )
        tbl = sql.Identifier(schema, table)
        cols: list[sql.Composable] = [sql.SQL("fid bigint PRIMARY KEY")]
        cols += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in f.types.items()]
        if f.geometry is not None:
            cols.append(
                sql.SQL("{} geometry(Geometry, {})").format(
                    sql.Identifier(_GEOM), sql.Literal(int(srid or 0))
                )
            )
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(tbl, sql.SQL(", ").join(cols)))
        names = ["fid", *f.types, *([_GEOM] if f.geometry is not None else [])]
        columns = [
            [_cell(v, kind) for v in f.data[c].to_numpy(dtype=object)]
            for c, kind in f.types.items()
        ]
        if f.geometry is not None:
            geoms = shapely.set_srid(np.asarray(f.geometry.values, dtype=object), int(srid or 0))
            columns.append(list(shapely.to_wkb(geoms, hex=True, include_srid=True)))
        with conn.cursor() as cur:
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                tbl, sql.SQL(", ").join(map(sql.Identifier, names))
            )
            with cur.copy(copy) as cp:
                for i, row in enumerate(zip(*columns, strict=True) if columns else ()):
                    cp.write_row((i, *row))
                if not columns:
                    for i in range(len(f.data)):
                        cp.write_row((i,))
        if f.geometry is not None:
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} USING gist ({})").format(
                    sql.Identifier(f"{table}_geom_idx"[:MAX_IDENT]), tbl, sql.Identifier(_GEOM)
                )
            )
        return {
            "table": table,
            "rows": len(f.data),
            # a list of pairs: a JSONB object would not keep the column order
            "columns": [[c, t] for c, t in f.types.items()],
            "geometry": f.geometry is not None,
        }

    # -- reading

    def current_version(self, workspace: str | None = None) -> int | None:
        """The version ``current`` points at (None when nothing is published yet)."""
        _, schema = self._schema(workspace)
        rows = self._read(
            sql.SQL("SELECT version_id FROM {}.current").format(sql.Identifier(schema))
        )
        return int(rows[0][0]) if rows else None

    def version_ids(self, workspace: str | None = None) -> list[int]:
        """Every published version id, oldest first."""
        _, schema = self._schema(workspace)
        return [
            int(r[0])
            for r in self._read(
                sql.SQL("SELECT version_id FROM {}.versions ORDER BY version_id").format(
                    sql.Identifier(schema)
                )
            )
        ]

    def open(self, workspace: str | None = None, version: int | None = None) -> PostgisPlan:
        """A published version (the current one by default), ready to read.

        Raises
        ------
        StoreError
            When the workspace is not published.
        VersionNotFoundError
            When the version does not exist.
        """
        name, schema = self._schema(workspace)
        s = sql.Identifier(schema)
        if version is None:
            version = self.current_version(name)
            if version is None:
                raise StoreError(f"store {self.location}: workspace {name!r} has no plan yet")
        rows = self._read(
            sql.SQL(
                "SELECT manifest, indicators, layers, tables, srid, source, workspace_toml_sha256 "
                "FROM {}.versions "
                "WHERE version_id = %s"
            ).format(s),
            (int(version),),
        )
        if not rows:
            held = ", ".join(map(str, self.version_ids(name))) or "none"
            raise VersionNotFoundError(
                f"store {self.location}: workspace {name!r}: expected a published version, "
                f"found {version!r}; published versions: {held}"
            )
        manifest, indicators, layers, tables, srid, source, toml_sha = rows[0]
        return PostgisPlan(
            store=self,
            workspace=name,
            schema=schema,
            version_id=int(version),
            manifest=manifest,
            indicators=indicators,
            layers=layers,
            tables=tables,
            srid=int(srid),
            source=str(source or ""),
            workspace_toml_sha256=toml_sha,
        )

    def snapshot_dir(
        self, workspace: str | None = None, version: int | None = None, *, keep: int = 2
    ) -> Path:
        """A local plan directory holding ``version`` (current by default), unpacked once.

        The dashboard serves it: every page, the tile server and scenario re-runs read a
        plan directory. Versions never change once published, so the folder is reused;
        folders of versions older than the ``keep`` newest unpacked are removed (the one
        before stays for requests still reading it).
        """
        plan = self.open(workspace, version)
        path = plan.materialise()
        unpacked = sorted(
            (int(p.name[1:]), p)
            for p in path.parent.glob("v*")
            if p.is_dir() and p.name[1:].isdigit()
        )
        for _, old in unpacked[:-keep] if keep > 0 else []:
            if old != path:
                shutil.rmtree(old, ignore_errors=True)
        return path

    def read_frame(
        self, schema: str, meta: dict[str, Any], *, srid: int, for_gpkg: bool = False
    ) -> pd.DataFrame:
        """A stored layer or table as the GeoPackage reader would return it.

        Booleans with NULLs and integers with NULLs come back as floats (1.0 / 0.0 / NaN),
        as pyogrio reads them from ``plan.gpkg``; ``for_gpkg`` keeps booleans nullable
        booleans instead (written back to a GeoPackage as booleans).
        """
        types: dict[str, str] = {str(c): str(t) for c, t in meta["columns"]}
        cols: list[sql.Composable] = [sql.Identifier(c) for c in types]
        if meta["geometry"]:
            cols.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(_GEOM)))
        query = sql.SQL("SELECT {} FROM {} ORDER BY fid").format(
            sql.SQL(", ").join(cols) if cols else sql.SQL("fid"),
            sql.Identifier(schema, meta["table"]),
        )
        rows = self._read(query)
        data: dict[str, Any] = {}
        for j, (c, kind) in enumerate(types.items()):
            vals = [r[j] for r in rows]
            data[c] = _column(vals, kind, for_gpkg=for_gpkg)
        frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
        if not meta["geometry"]:
            return frame
        wkb = [r[len(types)] for r in rows]
        geoms = shapely.from_wkb(
            np.array([bytes(w) if w is not None else None for w in wkb], dtype=object)
        )
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CRS.from_epsg(srid)))

    def blob(self, schema: str, table: str, version_id: int) -> dict[str, bytes]:
        """Rasters (``table='rasters'``) or files (``'files'``) of a version: key → bytes."""
        key = "name" if table == "rasters" else "path"
        rows = self._read(
            sql.SQL("SELECT {}, data FROM {}.{} WHERE version_id = %s").format(
                sql.Identifier(key), sql.Identifier(schema), sql.Identifier(table)
            ),
            (version_id,),
        )
        return {str(k): bytes(v) for k, v in rows}

    def history(self, workspace: str | None = None) -> PostgisHistory:
        """The published versions of ``workspace`` as a :class:`PlanHistory`."""
        name, _ = self._schema(workspace)
        return PostgisHistory(self, name)


def _column(vals: list[Any], kind: str, *, for_gpkg: bool) -> pd.Series:
    has_null = any(v is None for v in vals)
    if kind == "boolean":
        if for_gpkg:
            return pd.Series(vals, dtype="boolean")
        if has_null:
            return pd.Series([np.nan if v is None else float(v) for v in vals], dtype="float64")
        return pd.Series(vals, dtype="bool")
    if kind == "bigint":
        if has_null:
            return pd.Series([np.nan if v is None else float(v) for v in vals], dtype="float64")
        return pd.Series(vals, dtype="int64")
    if kind == "double precision":
        return pd.Series([np.nan if v is None else v for v in vals], dtype="float64")
    if all(v is None for v in vals):
        return pd.Series(vals, dtype=object)
    return pd.Series(vals)


def _collect(
    plan_dir: Path, layer_names: set[str], allow_personal: bool
) -> tuple[list[_Frame], list[_Frame], dict[str, bytes], dict[str, bytes]]:
    """Layers, bureau tables, raster bytes and other files of a plan directory to publish."""
    gpkg = plan_dir / "plan.gpkg"
    frames: list[_Frame] = []
    for name in sorted(layer_names):
        info = pyogrio.read_info(gpkg, layer=name)
        declared = dict(zip(info["fields"], info["dtypes"], strict=True))
        gdf = pyogrio.read_dataframe(gpkg, layer=name)
        if gdf.crs is not None and CRS.from_user_input(gdf.crs) != STORAGE_CRS:
            gdf = gdf.to_crs(STORAGE_CRS)
        if not allow_personal:
            gdf = gdf.drop(columns=[c for c in PERSONAL_COLUMNS if c in gdf.columns])
        data = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        types = {c: _pg_type(data[c].dtype, declared.get(c)) for c in data.columns}
        frames.append(_Frame(name, name, data, types, gdf.geometry))
    tables: list[_Frame] = []
    private: set[str] = set()  # stems of tables that hold personal columns
    tdir = plan_dir / "tables"
    for csv in sorted(tdir.glob("*.csv")) if tdir.is_dir() else []:
        try:
            df = pd.read_csv(csv, encoding="utf-8-sig", low_memory=False)
        except pd.errors.EmptyDataError:  # not even a header: nothing to query (file kept)
            continue
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise LayerSchemaError(f"plan table {csv}: expected a CSV table, found: {exc}") from exc
        personal = [c for c in PERSONAL_COLUMNS if c in df.columns]
        if personal and not allow_personal:
            df = df.drop(columns=personal)
            private.add(csv.stem)
        types = {str(c): _pg_type(df[c].dtype, None) for c in df.columns}
        tables.append(_Frame(csv.stem, csv.stem, df, types))
    rdir = plan_dir / "rasters"
    rasters = {p.stem: p.read_bytes() for p in sorted(rdir.glob("*.tif"))} if rdir.is_dir() else {}
    # every other file of the plan (tables as CSV/XLSX, web/ tiles' COGs...), by its path;
    # the files of a table with personal columns only with allow_personal
    kept = {"plan.gpkg", "manifest.json", "indicators.json"}
    files: dict[str, bytes] = {}
    for f in sorted(plan_dir.rglob("*")):
        rel = f.relative_to(plan_dir).as_posix()
        if not f.is_file() or f.is_symlink() or rel in kept or "/" not in rel:
            continue
        if f.parent == rdir and f.suffix == ".tif":
            continue
        if f.stem in private:
            continue
        files[rel] = f.read_bytes()
    return frames, tables, rasters, files


@dataclass
class PostgisPlan:
    """One published version, read through the store's pool (a :class:`ReadablePlan`).

    Vector layers are read from PostGIS on each :meth:`read_layer`; rasters and the
    bureau tables' files are unpacked once into :attr:`plan_dir` (a local cache folder).
    """

    store: PostgisStore
    workspace: str
    schema: str
    version_id: int
    manifest: dict[str, Any]
    indicators: Any
    layers: dict[str, Any]
    tables: dict[str, Any]
    srid: int
    source: str = ""
    workspace_toml_sha256: str | None = None

    @property
    def layer_names(self) -> set[str]:
        """Layers this version holds."""
        return set(self.layers)

    @property
    def plan_dir(self) -> Path:
        """The local cache folder of this version (rasters, tables, JSON files)."""
        return self.store.cache_root / self.schema / f"v{self.version_id}"

    @property
    def metric_crs(self) -> CRS | None:
        """The CRS the plan was computed in (None when the manifest does not say)."""
        crs = self.manifest.get("crs_metric")
        return CRS.from_user_input(crs) if crs else None

    def read_layer(
        self, name: str, *, crs: Any = None, allow_personal: bool = False
    ) -> gpd.GeoDataFrame:
        """One layer, from PostGIS (storage CRS unless ``crs``); personal columns dropped.

        Raises
        ------
        LayerNotFoundError
            When the version has no such layer.
        """
        if name not in self.layers:
            raise LayerNotFoundError(
                f"store {self.store.location}, workspace {self.workspace!r}, version "
                f"{self.version_id}: expected a layer {name!r}, found layers {sorted(self.layers)}"
            )
        gdf = self.store.read_frame(self.schema, self.layers[name], srid=self.srid)
        if not allow_personal:
            gdf = gdf.drop(columns=[c for c in PERSONAL_COLUMNS if c in gdf.columns])
        if crs is not None and isinstance(gdf, gpd.GeoDataFrame) and gdf.crs is not None:
            gdf = gdf.to_crs(crs)
        return gdf

    def read_table(self, name: str) -> pd.DataFrame:
        """A bureau table (``tables/<name>.csv`` of the plan) from its attribute table."""
        if name not in self.tables:
            raise LayerNotFoundError(
                f"store {self.store.location}, workspace {self.workspace!r}, version "
                f"{self.version_id}: expected a table {name!r}, found {sorted(self.tables)}"
            )
        return self.store.read_frame(self.schema, self.tables[name], srid=self.srid)

    def _unpack(self, *, with_gpkg: bool = False) -> Path:
        """Write rasters, files and JSON (and ``plan.gpkg``) into :attr:`plan_dir` once."""
        target = self.plan_dir
        done = target / ("plan.gpkg" if with_gpkg else "manifest.json")
        if done.is_file():
            return target
        with self.store._unpack_lock:  # one thread unpacks; the others then find it done
            if done.is_file():
                return target
            return self._unpack_into(target, with_gpkg=with_gpkg)

    def _unpack_into(self, target: Path, *, with_gpkg: bool) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            (tmp / "rasters").mkdir()
            (tmp / "tables").mkdir()
            for name, data in self.store.blob(self.schema, "rasters", self.version_id).items():
                (tmp / "rasters" / f"{name}.tif").write_bytes(data)
            for rel, data in self.store.blob(self.schema, "files", self.version_id).items():
                dest = (tmp / rel).resolve()
                if not dest.is_relative_to(tmp.resolve()) or dest == tmp.resolve():
                    raise LayerSchemaError(
                        f"store file {rel!r}: expected a path inside the plan, found one outside"
                    )
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            if with_gpkg:
                for name, meta in sorted(self.layers.items()):
                    gdf = self.store.read_frame(self.schema, meta, srid=self.srid, for_gpkg=True)
                    _gpkg_safe(gdf).to_file(tmp / "plan.gpkg", layer=name, driver="GPKG")
            (tmp / "indicators.json").write_text(
                json.dumps(self.indicators, ensure_ascii=False, indent=1), encoding="utf-8"
            )
            # the manifest last: its presence marks a complete folder
            (tmp / "manifest.json").write_text(
                json.dumps(self.manifest, ensure_ascii=False, indent=1), encoding="utf-8"
            )
            if target.exists():  # unpacked without plan.gpkg before: set it aside first
                target.replace(tmp.with_name(tmp.name + "-old"))
            tmp.rename(target)
            shutil.rmtree(tmp.with_name(tmp.name + "-old"), ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def materialise(self) -> Path:
        """A complete local plan directory of this version (``plan.gpkg`` included), for
        readers that need files: the dashboard's pages, tile server and scenario re-runs."""
        return self._unpack(with_gpkg=True)

    @property
    def raster_paths(self) -> dict[str, Path]:
        """Raster name → file in the local cache (unpacked on first use)."""
        folder = self._unpack() / "rasters"
        return {p.stem: p for p in sorted(folder.glob("*.tif"))}

    def read_raster(self, name: str) -> tuple[np.ndarray, Grid]:
        """A raster's first band (NaN = nodata) and its grid.

        Raises
        ------
        LayerNotFoundError
            When the version has no such raster.
        """
        path = self.raster_paths.get(name)
        if path is None:
            raise LayerNotFoundError(
                f"store {self.store.location}, workspace {self.workspace!r}, version "
                f"{self.version_id}: expected a raster {name!r}, found {sorted(self.raster_paths)}"
            )
        with rasterio.open(path) as src:
            crs = self.metric_crs or (CRS.from_user_input(src.crs) if src.crs else None)
            return src.read(1), Grid(src.shape, src.transform, crs)

    def settings(self) -> Settings:
        """The settings the plan was made with.

        Raises
        ------
        LayerSchemaError
            When the manifest records none.
        """
        recorded = self.manifest.get("settings")
        if not recorded:
            raise LayerSchemaError(
                f"store {self.store.location}, workspace {self.workspace!r}, version "
                f"{self.version_id}: expected the run's settings in the manifest, found none"
            )
        return settings_from_dict(recorded)


class PostgisHistory(PlanHistory):
    """The versions a :class:`PostgisStore` holds for one workspace, as a plan history.

    Versions, their headline figures and village states are derived from the stored
    manifests and layers (the store keeps the whole plan of every version), so nothing
    is recorded twice. :meth:`record` publishes a plan directory.
    """

    def __init__(self, store: PostgisStore, workspace: str):
        self.store = store
        self.workspace = workspace
        self.location = f"store {store.location}, workspace {workspace!r}"

    def record(self, plan_dir: str | Path) -> Version:
        return self.version(self.store.write(plan_dir, self.workspace))

    def versions(self) -> list[Version]:
        return [self.version(i) for i in self.store.version_ids(self.workspace)]

    def version(self, version_id: int) -> Version:
        plan = self._open(version_id)
        v = _version(plan)
        same = None
        for other in self.store.version_ids(self.workspace):
            if other >= int(version_id):
                break
            o = self._open(other)
            ov = _version(o)
            if (ov.inputs_sha256, ov.settings_sha256, ov.workspace_toml_sha256) == (
                v.inputs_sha256,
                v.settings_sha256,
                v.workspace_toml_sha256,
            ):
                same = other
                break
        fields = {**v.__dict__, "id": int(version_id), "same_as": same}
        return Version(**fields)

    def village_states(self, version_id: int) -> VillageStates:
        plan = self._open(version_id)
        ids = [str(i["id"]) for i in _indicator_list(plan.indicators)]
        cand = (
            plan.read_layer("relocation_candidates")
            if "relocation_candidates" in plan.layer_names
            else None
        )
        return _states_from_layers(plan.read_layer("villages"), cand, ids)

    def _open(self, version_id: int) -> PostgisPlan:
        return self.store.open(self.workspace, int(version_id))


def _where(plan: PostgisPlan) -> Path:
    """The plan directory a version was published from (what ``anju history`` shows)."""
    return Path(plan.source) if plan.source else plan.plan_dir


def _version(plan: PostgisPlan) -> Version:
    """A stored version as :class:`Version` (without id), with the workspace.toml checksum
    taken when it was published (not the file as it is now)."""
    v = _version_from_manifest(_where(plan), plan.manifest, plan.indicators)
    return Version(**{**v.__dict__, "workspace_toml_sha256": plan.workspace_toml_sha256})
