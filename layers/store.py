"""Where plans are kept: a plan directory (GeoPackage, the embedded default) or PostGIS.

A :class:`PlanStore` publishes plans under a workspace name and opens them again for
readers (the dashboard, scenarios, history). Two implementations:

* :class:`GpkgStore` — one plan directory as :func:`layers.plan.write_plan` writes it
  (``plan.gpkg``, ``rasters/``, ``tables/``, JSON files); exactly today's behaviour.
* :class:`layers.store_postgis.PostgisStore` — a shared PostgreSQL/PostGIS database: a
  schema per workspace, every plan version in its own tables, published in one
  transaction (see that module).

:func:`open_store` picks one from what the user typed: a ``postgresql://`` URL or a folder.
What a store's :meth:`PlanStore.open` returns follows :class:`ReadablePlan`, the reading
surface of :class:`layers.plan.StoredPlan`.
"""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
from pyproj import CRS

from layers.errors import AnjuError
from layers.grid import Grid
from layers.plan import PlanOutput, StoredPlan, open_plan, write_plan
from layers.settings import Settings

__all__ = ["GpkgStore", "PlanStore", "ReadablePlan", "StoreError", "is_store_url", "open_store"]

#: URL schemes that name a PostgreSQL database.
PG_SCHEMES = ("postgresql://", "postgres://")


class StoreError(AnjuError, ConnectionError):
    """A store that cannot be reached, read or written (message safe to print: no password)."""


class ReadablePlan(Protocol):
    """What readers of a stored plan use (:class:`layers.plan.StoredPlan` has all of it)."""

    @property
    def plan_dir(self) -> Path: ...

    @property
    def manifest(self) -> dict[str, Any]: ...

    @property
    def indicators(self) -> Any: ...

    @property
    def layer_names(self) -> set[str]: ...

    @property
    def metric_crs(self) -> CRS | None: ...

    @property
    def raster_paths(self) -> dict[str, Path]: ...

    def read_layer(
        self, name: str, *, crs: Any = None, allow_personal: bool = False
    ) -> gpd.GeoDataFrame: ...

    def read_raster(self, name: str) -> tuple[np.ndarray, Grid]: ...

    def settings(self) -> Settings: ...


class PlanStore(ABC):
    """A place that holds the plans of one or more workspaces.

    Attributes
    ----------
    location : str
        Where the store is, for messages (a folder, a URL without its password).
    """

    location: str

    @abstractmethod
    def write(
        self,
        source: PlanOutput | str | Path,
        workspace: str,
        *,
        allow_personal: bool = False,
    ) -> int | None:
        """Publish a plan (in memory, or a plan directory written by ``anju run``).

        Parameters
        ----------
        source
            A :class:`~layers.plan.PlanOutput` or a plan directory.
        workspace
            The workspace name the plan is published under.
        allow_personal
            Keep household names, ID numbers and phones (``anju run --allow-personal``);
            without it they are left out of the store.

        Returns
        -------
        int or None
            The version id the store gave the plan (None for a store without versions).
        """

    @abstractmethod
    def open(self, workspace: str | None = None, version: int | None = None) -> ReadablePlan:
        """The current plan of ``workspace`` (or version ``version`` of it)."""

    @abstractmethod
    def current_version(self, workspace: str | None = None) -> int | None:
        """The id of the version readers are given now (None: the store has no versions)."""


class GpkgStore(PlanStore):
    """One plan directory: the embedded default, behaving exactly as before stores existed.

    Parameters
    ----------
    plan_dir
        The OUT directory of ``anju run``. The workspace name is not used: a plan
        directory holds one plan; versions live in ``WORKSPACE/history.gpkg``.
    """

    def __init__(self, plan_dir: str | Path):
        self.plan_dir = Path(plan_dir)
        self.location = str(self.plan_dir)

    def write(
        self,
        source: PlanOutput | str | Path,
        workspace: str,
        *,
        allow_personal: bool = False,
    ) -> int | None:
        """Write ``source`` into the plan directory (atomically, as :func:`write_plan`).

        ``allow_personal`` is decided by the pipeline for a plan directory (it masks
        personal fields before writing), so it is not consulted here.
        """
        if isinstance(source, PlanOutput):
            write_plan(self.plan_dir, source)
            return None
        src = Path(source).resolve()
        if src == self.plan_dir.resolve():
            return None
        open_plan(src)  # refuse what is not a plan before touching the target
        self.plan_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{self.plan_dir.name}.partial-", dir=self.plan_dir.parent)
        )
        try:
            shutil.copytree(src, tmp / "plan")
            old = None
            if self.plan_dir.exists():
                old = tmp / "old"
                self.plan_dir.replace(old)
            try:
                (tmp / "plan").rename(self.plan_dir)
            except BaseException:
                if old is not None and not self.plan_dir.exists():
                    old.rename(self.plan_dir)  # put the previous plan back
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return None

    def open(self, workspace: str | None = None, version: int | None = None) -> StoredPlan:
        """The plan directory opened by :func:`layers.plan.open_plan`.

        Raises
        ------
        StoreError
            When a version is asked for (a plan directory holds one plan).
        """
        if version is not None:
            raise StoreError(
                f"{self.location}: a plan directory holds one plan, not versions; "
                "use `anju history WORKSPACE` for the recorded versions"
            )
        return open_plan(self.plan_dir)

    def current_version(self, workspace: str | None = None) -> int | None:
        return None


def is_store_url(text: str | Path) -> bool:
    """Whether ``text`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(text, str) and text.strip().lower().startswith(PG_SCHEMES)


def open_store(where: str | Path, **kwargs: Any) -> PlanStore:
    """A store from what the user typed: a ``postgresql://`` URL or a plan directory.

    Keyword arguments go to :class:`~layers.store_postgis.PostgisStore` (``pool_size``...).

    Raises
    ------
    StoreError
        A database that cannot be reached, or PostGIS support not installed
        (``pip install 'anju[postgis]'``).
    """
    if is_store_url(where):
        try:
            from layers.store_postgis import PostgisStore
        except ImportError as exc:  # the optional extra is missing
            raise StoreError(
                f"--store {redact(str(where))}: PostGIS support needs psycopg and psycopg-pool: "
                f"pip install 'anju[postgis]' ({exc})"
            ) from exc
        return PostgisStore(str(where), **kwargs)
    return GpkgStore(where)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print)."""
    import re

    url = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)
