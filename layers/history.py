"""Plan history: every ``anju run`` is a version, kept in a store; what changed between two.

A *version* is one plan as it was made: an id, the date the plan was made
(``manifest.json["created"]``), the policy profile, a checksum of the workspace's input
files (``manifest.json["inputs"]``: kind, path and sha256 of every file), a checksum of the
settings (``manifest.json["settings"]`` with the profile's indicators as evaluated,
``indicators.json``), the headline figures (``manifest.json["summary"]``) and, per village,
the states a diff reads:

``village_states``
    blocker class, exit readiness, unmet / unknown / unconfirmed indicators, the road gap
    (known unhardened km, km of unknown surface), relocation eligibility, score, reasons
    and people to move (``relocation_candidates``), and the exit timetable when the plan
    has one (exit year, exited, timetable status);
``indicator_states``
    each indicator's status, evidence quality, value and threshold
    (the villages layer's ``<id>_status``, ``<id>_quality``, ...);
``village_evidence``
    what explains a change: the village's own input attributes (the columns of the
    workspace's villages layer: population, poor_population, has_safe_water,
    clinic_standard...) and the evidence the pipeline measured (road_access,
    unhardened_km, water_dist_m, hosts_health_centre, travel_min_*...), as text.

They are copied out of the plan when the version is recorded, so a diff still works after
the plan directory has been overwritten by the next run. Two versions whose input files,
settings and ``workspace.toml`` are byte-identical are still two versions; the later one
records ``same_as``, the first version with the same inputs and settings.

:func:`snapshot_plan` reads a plan directory through :func:`layers.plan.open_plan` (the
plan's only reader) into a :class:`Snapshot`; a store keeps snapshots; :func:`diff_snapshots`
compares two snapshots and says, for every village that changed, why: its own input
attributes, its measured evidence and the input files behind it, the settings, the
profile, ``workspace.toml`` or anju's version.

The store
---------
:class:`PlanHistory` is the interface: :meth:`~PlanHistory.record`,
:meth:`~PlanHistory.versions`, :meth:`~PlanHistory.version` and
:meth:`~PlanHistory.village_states`. :class:`GpkgHistory` implements it in a GeoPackage,
by default ``history.gpkg`` beside the workspace's ``workspace.toml``
(:func:`history_path`), written with ``sqlite3``: attribute tables only (no geometry,
the plan holds that), each registered in ``gpkg_contents``, so GDAL and QGIS open the file
as a GeoPackage. The tables (:data:`SCHEMA`) are plain relational tables keyed by
``version_id`` and ``village_id``: a PostGIS backend implements the same four methods on
the same tables (one schema per county, ``version_id`` from a sequence, the record in one
transaction) and nothing above the interface changes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layers.catalogue import SPECS, TRAVEL_KINDS
from layers.errors import AnjuError, LayerNotFoundError, LayerSchemaError
from layers.plan import open_plan

__all__ = [
    "HISTORY_FILE",
    "SCHEMA",
    "GpkgHistory",
    "InputFile",
    "PlanHistory",
    "Snapshot",
    "Version",
    "VersionNotFoundError",
    "VillageStates",
    "diff_snapshots",
    "format_diff",
    "format_version",
    "history_path",
    "open_history",
    "snapshot_plan",
]

#: The store's file name, beside ``workspace.toml``.
HISTORY_FILE = "history.gpkg"
#: Version of the store's tables (``history_meta.schema_version``).
SCHEMA_VERSION = 1


class VersionNotFoundError(AnjuError, LookupError):
    """A version id the store does not hold."""


# --------------------------------------------------------------------------- what is kept

#: Per-village state columns (``village_states``) and their SQL types.
VILLAGE_COLUMNS: dict[str, str] = {
    "name": "TEXT",
    "township": "TEXT",
    "population": "REAL",
    "poor_population": "REAL",
    "exit_applicable": "BOOLEAN",
    "exit_ready": "BOOLEAN",
    "blocker_class": "TEXT",
    "unmet": "TEXT",
    "unknown": "TEXT",
    "unconfirmed": "TEXT",
    "road_access": "TEXT",
    "road_evidence": "TEXT",
    "road_gap_km": "REAL",  # known unhardened km on the way in (villages.unhardened_km)
    "road_unknown_km": "REAL",  # km of unknown surface on the way in
    "eligible": "BOOLEAN",
    "reloc_score": "REAL",
    "reason_codes": "TEXT",
    "people_to_move": "REAL",
    "people_to_move_poor": "REAL",
    "site_id": "TEXT",
    # the exit timetable, when the plan has one (optional columns of the villages layer)
    "exit_year": "REAL",
    "exited": "BOOLEAN",
    "timetable_status": "TEXT",
}
_BOOL_STATE = {c for c, t in VILLAGE_COLUMNS.items() if t == "BOOLEAN"}

_VILLAGE_SPEC = SPECS["villages"]
#: The village's own input attributes kept as evidence: the villages layer's columns.
INPUT_FIELDS: tuple[str, ...] = tuple(
    c.name for c in _VILLAGE_SPEC.columns if c.name not in ("village_id", "name", "township")
)
_BOOL_FIELDS = {c.name for c in _VILLAGE_SPEC.columns if c.dtype == "bool"} | {
    "in_water_service_area",
    "hosts_health_centre",
    "in_protected",
    "road_claim_conflict",
    "incidence_conflict",
}

_ROAD = ("roads",)
_TRAVEL_FROM = {
    "county_seat": "towns",
    "township_seat": "towns",
    "industrial_park": "towns",
    "village_clinic": "clinics",
    "health_centre": "clinics",
    "school": "schools",
}
#: Measured evidence kept per village, with the input layers it is measured from.
MEASURED_FIELDS: dict[str, tuple[str, ...]] = {
    "road_access": _ROAD,
    "road_evidence": _ROAD,
    "unhardened_km": _ROAD,
    "unknown_surface_km": _ROAD,
    "connection_km": _ROAD,
    "inferred_km": _ROAD,
    "road_snap_m": _ROAD,
    "road_claim_conflict": _ROAD,
    "poverty_incidence_frac": ("villages", "households"),
    "incidence_source": ("villages", "households"),
    "incidence_households_frac": ("households",),
    "incidence_conflict": ("villages", "households"),
    "water_dist_m": ("water",),
    "in_water_service_area": ("water",),
    "hosts_health_centre": ("clinics",),
    **{
        f"travel_min_{k}": ("roads", "dem", "water", _TRAVEL_FROM.get(k, "towns"))
        for k in TRAVEL_KINDS
    },
    "hazard_frac": ("hazards",),
    "geological_hazard_frac": ("hazards",),
    "flood_hazard_frac": ("hazards",),
    "seismic_hazard_frac": ("hazards",),
    "in_protected": ("protected",),
    "protected_kind": ("protected",),
    "elev_mean_m": ("dem",),
    "slope_gt25_frac": ("dem",),
}

#: Headline figures of a version: name → (summary key(s), label).
HEADLINE: dict[str, str] = {
    "ready": "ready",
    "blocked": "blocked",
    "unknown": "unknown",
    "km_to_harden": "km to harden",
    "km_unknown_surface": "km of unknown surface",
    "people_to_relocate": "people to relocate",
}

_BLOCKED = ("blocked_one", "blocked_several")


# --------------------------------------------------------------------------- versions


@dataclass(frozen=True)
class InputFile:
    """One input file of a version (``manifest.json["inputs"]``); ``path`` relative to the
    workspace when it lies inside it."""

    kind: str
    path: str
    sha256: str | None
    features: int | None = None


@dataclass(frozen=True)
class Version:
    """One plan version: what it was made from and its headline figures.

    ``id`` is None for a plan directory read directly (not from a store).
    ``settings`` holds the run's settings (``manifest.json["settings"]`` without the
    profile's file path), the profile's indicators (``indicators.json``) and the
    ``allow_personal`` flag: what :attr:`settings_sha256` checks.
    """

    id: int | None
    created: str
    profile: str
    province_group: str | None
    workspace: str
    workspace_path: str
    plan_dir: str
    anju_version: str
    plan_format: int | None
    inputs_sha256: str
    settings_sha256: str
    workspace_toml_sha256: str | None
    inputs: tuple[InputFile, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    same_as: int | None = None
    recorded: str | None = None

    @property
    def label(self) -> str:
        """``version 3``, or the plan directory for a plan read directly."""
        return f"version {self.id}" if self.id is not None else self.plan_dir

    @property
    def headline(self) -> dict[str, float | int | None]:
        """Ready, blocked, unknown, km to harden, km of unknown surface, people to relocate."""
        s = self.summary

        def num(key: str) -> float | int | None:
            v = s.get(key)
            return v if isinstance(v, int | float) and not isinstance(v, bool) else None

        blocked: int | None = None
        if any(k in s for k in _BLOCKED):
            blocked = int(sum(num(k) or 0 for k in _BLOCKED))
        return {
            "ready": num("exit_ready"),
            "blocked": blocked,
            "unknown": num("unknown"),
            "km_to_harden": num("km_to_harden"),
            "km_unknown_surface": num("km_unknown_surface"),
            "people_to_relocate": num("people_to_relocate"),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the settings left out: see :attr:`settings`)."""
        return {
            "id": self.id,
            "label": self.label,
            "created": self.created,
            "recorded": self.recorded,
            "profile": self.profile,
            "province_group": self.province_group,
            "workspace": self.workspace,
            "workspace_path": self.workspace_path,
            "plan_dir": self.plan_dir,
            "anju_version": self.anju_version,
            "inputs_sha256": self.inputs_sha256,
            "settings_sha256": self.settings_sha256,
            "workspace_toml_sha256": self.workspace_toml_sha256,
            "same_as": self.same_as,
            "headline": self.headline,
            "warnings": len(self.warnings),
            "inputs": [
                {"kind": i.kind, "path": i.path, "sha256": i.sha256, "features": i.features}
                for i in self.inputs
            ],
        }


@dataclass
class VillageStates:
    """Per-village states of one version.

    Attributes
    ----------
    villages : DataFrame
        Indexed by ``village_id`` (text); columns :data:`VILLAGE_COLUMNS`.
    indicators : DataFrame
        ``village_id``, ``indicator``, ``status``, ``quality``, ``value``, ``threshold``.
    evidence : DataFrame
        ``village_id``, ``field``, ``source`` (``input`` | ``measured``), ``value`` (text,
        see :func:`_text`); a blank value has no row (blank and absent both read unknown).
    """

    villages: pd.DataFrame
    indicators: pd.DataFrame
    evidence: pd.DataFrame


@dataclass
class Snapshot:
    """A version and its village states (what a store records, what a diff compares)."""

    version: Version
    states: VillageStates


# --------------------------------------------------------------------------- reading a plan


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and math.isnan(float(v))


def _text(v: Any, *, boolean: bool = False) -> str | None:
    """A value as comparable text: None for blank; booleans true/false; numbers to 5
    decimals and 6 significant digits (so float noise is not a change)."""
    if _missing(v):
        return None
    if boolean or isinstance(v, bool | np.bool_):
        if isinstance(v, str):
            return v.strip().lower() or None
        return "true" if bool(v) else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        f = round(f, 5)  # metres, km, minutes and fractions: finer is noise, not a change
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return f"{f:.6g}"
    s = str(v)
    return s if s != "" else None


def _tri(v: Any) -> bool | None:
    if _missing(v):
        return None
    if isinstance(v, str):
        return {"true": True, "false": False, "1": True, "0": False}.get(v.strip().lower())
    return bool(v)


def _num(v: Any) -> float | None:
    if _missing(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _str(v: Any) -> str | None:
    return None if _missing(v) else (str(v) if str(v) != "" else None)


def _sha(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _relative(path: str, root: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError):
        return path


def _file_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _indicator_list(indicators: Any) -> list[dict[str, Any]]:
    items = indicators.get("indicators", []) if isinstance(indicators, Mapping) else indicators
    return [dict(i) for i in (items or []) if isinstance(i, Mapping) and i.get("id")]


def _settings_of(manifest: Mapping[str, Any], indicators: Any) -> dict[str, Any]:
    """What the settings checksum covers: the run's settings (without the profile's file
    path: the same profile found elsewhere is the same profile), every indicator as
    evaluated and the allow_personal flag."""
    s = json.loads(json.dumps(manifest.get("settings") or {}, default=str))
    if isinstance(s.get("profile"), dict):
        s["profile"] = {k: v for k, v in s["profile"].items() if k != "path"}
    return {
        "settings": s,
        "indicators": {str(i["id"]): dict(i) for i in _indicator_list(indicators)},
        "allow_personal": bool((manifest.get("parameters") or {}).get("allow_personal", False)),
    }


def _version_from_manifest(plan_dir: Path, manifest: Mapping[str, Any], indicators: Any) -> Version:
    ws = manifest.get("workspace") or {}
    ws_path = str(ws.get("path") or "")
    inputs = tuple(
        sorted(
            (
                InputFile(
                    kind=str(i.get("kind")),
                    path=_relative(str(i.get("path")), ws_path) if ws_path else str(i.get("path")),
                    sha256=i.get("sha256"),
                    features=i.get("features"),
                )
                for i in manifest.get("inputs") or []
                if isinstance(i, Mapping)
            ),
            key=lambda i: (i.kind, i.path),
        )
    )
    settings = _settings_of(manifest, indicators)
    policy = manifest.get("policy") or {}
    toml = Path(ws_path) / "workspace.toml" if ws_path else None
    return Version(
        id=None,
        created=str(manifest.get("created") or ""),
        profile=str(policy.get("name") or (settings["settings"].get("profile") or {}).get("name")),
        province_group=policy.get("province_group") or settings["settings"].get("province_group"),
        workspace=str(ws.get("name") or ""),
        workspace_path=ws_path,
        plan_dir=str(plan_dir),
        anju_version=str(manifest.get("anju_version") or ""),
        plan_format=manifest.get("plan_format"),
        inputs_sha256=_sha([[i.kind, i.path, i.sha256] for i in inputs]),
        settings_sha256=_sha(settings),
        workspace_toml_sha256=_file_sha256(toml) if toml is not None else None,
        inputs=inputs,
        summary=dict(manifest.get("summary") or {}),
        settings=settings,
        warnings=tuple(str(w) for w in manifest.get("warnings") or []),
    )


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _states_from_layers(
    villages: pd.DataFrame, candidates: pd.DataFrame | None, indicator_ids: Sequence[str]
) -> VillageStates:
    v = pd.DataFrame(villages.drop(columns=["geometry"], errors="ignore")).copy()
    if "village_id" not in v.columns:
        raise LayerSchemaError("plan layer 'villages': missing column 'village_id' (text)")
    v["village_id"] = v["village_id"].map(_str)
    v = v[v["village_id"].notna()].drop_duplicates("village_id").set_index("village_id")
    c = (
        pd.DataFrame(candidates.drop(columns=["geometry"], errors="ignore"))
        if candidates is not None
        else pd.DataFrame({"village_id": []})
    )
    if "village_id" in c.columns:
        c = c.assign(village_id=c["village_id"].map(_str)).drop_duplicates("village_id")
        c = c.set_index("village_id").reindex(v.index)
    else:
        c = pd.DataFrame(index=v.index)
    source = {
        "road_gap_km": _column(v, "unhardened_km"),
        "road_unknown_km": _column(v, "unknown_surface_km"),
        "reloc_score": _column(v, "reloc_score"),
        "reason_codes": _column(c, "reason_codes"),
        "people_to_move": _column(c, "people_to_move"),
        "people_to_move_poor": _column(c, "people_to_move_poor"),
    }
    states = pd.DataFrame(index=v.index)
    for col, sql in VILLAGE_COLUMNS.items():
        s = source.get(col, _column(v, col))
        if col == "eligible" and col not in v.columns:
            s = _column(c, "eligible")
        conv = _tri if sql == "BOOLEAN" else _num if sql == "REAL" else _str
        states[col] = pd.Series(
            [conv(x) for x in s.to_numpy(dtype=object)], index=v.index, dtype=object
        )
    ind_rows = []
    for iid in indicator_ids:
        if f"{iid}_status" not in v.columns:
            continue
        st, q = _column(v, f"{iid}_status"), _column(v, f"{iid}_quality")
        val, thr = _column(v, f"{iid}_value"), _column(v, f"{iid}_threshold")
        for vid, a, b, x, y in zip(
            v.index,
            st.to_numpy(dtype=object),
            q.to_numpy(dtype=object),
            val.to_numpy(dtype=object),
            thr.to_numpy(dtype=object),
            strict=True,
        ):
            ind_rows.append((vid, iid, _str(a), _str(b), _num(x), _num(y)))
    indicators = pd.DataFrame(
        ind_rows, columns=["village_id", "indicator", "status", "quality", "value", "threshold"]
    )
    ev_rows = []
    fields = [(f, "input") for f in INPUT_FIELDS if f in v.columns] + [
        (f, "measured") for f in MEASURED_FIELDS if f in v.columns and f not in INPUT_FIELDS
    ]
    for f, src in fields:
        boolean = f in _BOOL_FIELDS
        for vid, x in zip(v.index, v[f].to_numpy(dtype=object), strict=True):
            t = _text(x, boolean=boolean)
            if t is not None:  # a blank is kept as no row: absent and blank both read unknown
                ev_rows.append((vid, f, src, t))
    evidence = pd.DataFrame(ev_rows, columns=["village_id", "field", "source", "value"])
    return VillageStates(states, indicators, evidence)


def snapshot_plan(plan_dir: str | Path) -> Snapshot:
    """Read a plan directory into a :class:`Snapshot` (its version has no id).

    Raises
    ------
    LayerNotFoundError
        When the directory holds no plan (no plan.gpkg, no villages layer).
    LayerSchemaError
        When the plan cannot be read or has no manifest.
    """
    plan = open_plan(plan_dir)
    if not plan.manifest:
        raise LayerSchemaError(
            f"plan file {plan.plan_dir / 'manifest.json'}: expected the run's manifest, found none"
        )
    version = _version_from_manifest(plan.plan_dir, plan.manifest, plan.indicators)
    ids = [str(i["id"]) for i in _indicator_list(plan.indicators)]
    villages = plan.read_layer("villages")
    cand = (
        plan.read_layer("relocation_candidates")
        if "relocation_candidates" in plan.layer_names
        else None
    )
    return Snapshot(version, _states_from_layers(villages, cand, ids))


# --------------------------------------------------------------------------- the store


class PlanHistory(ABC):
    """Where plan versions are kept (GeoPackage now; PostGIS behind the same methods).

    Every method raises :class:`~layers.errors.LayerSchemaError` when the store cannot be
    read or written, and the id-taking ones :class:`VersionNotFoundError` for an id the
    store does not hold.
    """

    #: Where the store is, for messages (a file path, a database URL).
    location: str

    @abstractmethod
    def record(self, plan_dir: str | Path) -> Version:
        """Record the plan in ``plan_dir`` as a new version and return it (with its id and,
        when the same inputs and settings were recorded before, ``same_as``). Recording the
        same plan twice (same directory and creation time) returns the first record."""

    @abstractmethod
    def versions(self) -> list[Version]:
        """Every version, oldest first."""

    @abstractmethod
    def version(self, version_id: int) -> Version:
        """One version."""

    @abstractmethod
    def village_states(self, version_id: int) -> VillageStates:
        """The per-village states of one version."""

    def snapshot(self, version_id: int) -> Snapshot:
        """A version with its village states (what :func:`diff_snapshots` compares)."""
        return Snapshot(self.version(version_id), self.village_states(version_id))

    def resolve(self, ref: str) -> int:
        """A version id from text: a number, ``latest`` or ``previous``.

        Raises
        ------
        VersionNotFoundError
            When the store holds no such version (the message lists the ids it holds).
        """
        ids = [v.id for v in self.versions() if v.id is not None]
        word = ref.strip().lower().removeprefix("v")
        if word in ("latest", "last") and ids:
            return ids[-1]
        if word in ("previous", "prev") and len(ids) >= 2:
            return ids[-2]
        if word.isdigit() and int(word) in ids:
            return int(word)
        held = (
            f"it holds version{'s' if len(ids) > 1 else ''} {_id_ranges(ids)} (see `anju history`)"
            if ids
            else "it holds no version yet"
        )
        raise VersionNotFoundError(
            f"{self.location}: expected a version id (a number, latest or previous), "
            f"found {ref!r}, which is not recorded; {held}"
        )


def _id_ranges(ids: Sequence[int]) -> str:
    if not ids:
        return "none"
    parts, start, prev = [], ids[0], ids[0]
    for i in list(ids[1:]) + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(f"{start}" if start == prev else f"{start}–{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)


#: The store's tables: name → (description, column definitions). Every table has an
#: INTEGER PRIMARY KEY (a GeoPackage attributes table must); rows are written by
#: :meth:`GpkgHistory.record` only, one (version, village, indicator or field) once, and
#: found through :data:`INDEXES` (a UNIQUE index on the two largest tables would double
#: their size).
SCHEMA: dict[str, tuple[str, str]] = {
    "history_meta": (
        "anju plan history: schema version",
        "fid INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, value TEXT",
    ),
    "versions": (
        "anju plan versions: one row per anju run",
        "version_id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, "
        "recorded TEXT NOT NULL, workspace TEXT, workspace_path TEXT, plan_dir TEXT, "
        "profile TEXT, province_group TEXT, anju_version TEXT, plan_format INTEGER, "
        "inputs_sha256 TEXT NOT NULL, settings_sha256 TEXT NOT NULL, "
        "workspace_toml_sha256 TEXT, same_as INTEGER, "
        "villages INTEGER, villages_assessed INTEGER, ready INTEGER, blocked INTEGER, "
        "unknown INTEGER, unconfirmed INTEGER, km_to_harden REAL, km_unknown_surface REAL, "
        "people_to_relocate INTEGER, people_to_relocate_poor INTEGER, n_warnings INTEGER, "
        "summary_json TEXT, settings_json TEXT, warnings_json TEXT",
    ),
    "version_inputs": (
        "anju plan versions: input files with their sha256",
        "fid INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, "
        "kind TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, features INTEGER, "
        "UNIQUE (version_id, kind, path)",
    ),
    "village_states": (
        "anju plan versions: per-village exit, road and relocation states",
        "fid INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, "
        "village_id TEXT NOT NULL, "
        + ", ".join(f"{c} {t}" for c, t in VILLAGE_COLUMNS.items())
        + ", UNIQUE (version_id, village_id)",
    ),
    "indicator_states": (
        "anju plan versions: per-village indicator status and evidence quality",
        "fid INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, "
        "village_id TEXT NOT NULL, indicator TEXT NOT NULL, status TEXT, quality TEXT, "
        "value REAL, threshold REAL",
    ),
    "village_evidence": (
        "anju plan versions: per-village input attributes and measured evidence (text)",
        "fid INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, "
        "village_id TEXT NOT NULL, field TEXT NOT NULL, source TEXT NOT NULL, value TEXT",
    ),
}

#: Indexes of the store (the rows of a version are read together).
INDEXES: tuple[str, ...] = (
    "CREATE INDEX idx_indicator_states_version ON indicator_states (version_id)",
    "CREATE INDEX idx_village_evidence_version ON village_evidence (version_id)",
    "CREATE INDEX idx_versions_inputs ON versions (inputs_sha256, settings_sha256)",
)

_GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
_GPKG_USER_VERSION = 10200  # GeoPackage 1.2
_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
_GPKG_CORE = (
    "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
    "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, "
    "definition TEXT NOT NULL, description TEXT)",
    "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL "
    "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, "
    "max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
    "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, "
    "m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT uk_gc_table_name UNIQUE (table_name), "
    "CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), "
    "CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
)
_SRS_ROWS = (
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        _WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
)


def history_path(workspace: str | Path) -> Path:
    """The default store of a workspace: ``history.gpkg`` beside its ``workspace.toml``."""
    return Path(workspace) / HISTORY_FILE


def open_history(workspace: str | Path, *, create: bool = False) -> PlanHistory:
    """The history store of ``workspace`` (today a :class:`GpkgHistory` at
    :func:`history_path`; the place to choose a PostGIS backend later).

    Raises
    ------
    LayerNotFoundError
        When the store does not exist and ``create`` is False.
    LayerSchemaError
        When the file exists but is not an anju history GeoPackage.
    """
    return GpkgHistory(history_path(workspace), create=create)


class GpkgHistory(PlanHistory):
    """Plan versions in a GeoPackage (attribute tables, :data:`SCHEMA`), through sqlite3.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    create
        Create the file (and its folder's file only: the folder must exist) when missing.

    Raises
    ------
    LayerNotFoundError
        When the file does not exist and ``create`` is False.
    LayerSchemaError
        When the file is not a GeoPackage holding anju's history tables.
    """

    def __init__(self, path: str | Path, *, create: bool = False):
        self.path = Path(path)
        self.location = str(self.path)
        if not self.path.is_file():
            if not create:
                raise LayerNotFoundError(
                    f"history store {self.path}: expected a GeoPackage written by `anju run`, "
                    "found nothing"
                )
            self._create()
        self._check()

    # -- plumbing

    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise LayerSchemaError(f"history store {self.path}: cannot open: {exc}") from exc
        return con

    def _error(self, exc: Exception) -> LayerSchemaError:
        return LayerSchemaError(
            f"history store {self.path}: expected an anju history GeoPackage, found: {exc}"
        )

    def _create(self) -> None:
        if not self.path.parent.is_dir():
            raise LayerNotFoundError(
                f"history store {self.path}: expected its folder {self.path.parent} to exist, "
                "found nothing"
            )
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent
        )
        os.close(fd)
        tmp = Path(name)
        tmp.unlink()
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            try:
                con.execute(f"PRAGMA application_id = {_GPKG_APPLICATION_ID}")
                con.execute(f"PRAGMA user_version = {_GPKG_USER_VERSION}")
                con.execute("BEGIN")
                for ddl in _GPKG_CORE:
                    con.execute(ddl)
                con.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", _SRS_ROWS)
                for name, (desc, cols) in SCHEMA.items():
                    con.execute(f"CREATE TABLE {name} ({cols})")
                    con.execute(
                        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                        "VALUES (?, 'attributes', ?, ?)",
                        (name, name, desc),
                    )
                for ddl in INDEXES:
                    con.execute(ddl)
                con.execute(
                    "INSERT INTO history_meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                con.execute("COMMIT")
            finally:
                con.close()
            # a store appears whole or not at all; of two first runs racing, the second
            # finds the first's store in place and records into it
            try:
                os.link(tmp, self.path)  # atomic, and never over an existing file
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links
                if not self.path.exists():
                    tmp.replace(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise LayerSchemaError(f"history store {self.path}: cannot create: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def _check(self) -> None:
        con = self._connect()
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            meta = (
                dict(con.execute("SELECT key, value FROM history_meta").fetchall())
                if "history_meta" in names
                else {}
            )
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        finally:
            con.close()
        missing = [t for t in SCHEMA if t not in names]
        if missing:
            raise self._error(Exception(f"no table(s) {', '.join(missing)}"))
        found = meta.get("schema_version")
        if found != str(SCHEMA_VERSION):
            raise LayerSchemaError(
                f"history store {self.path}: expected schema version {SCHEMA_VERSION}, "
                f"found {found!r} (written by another anju version)"
            )

    # -- the interface

    def record(self, plan_dir: str | Path) -> Version:
        snap = snapshot_plan(plan_dir)
        v = snap.version
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # one writer: ids and same_as stay consistent
            row = con.execute(
                "SELECT version_id FROM versions WHERE plan_dir = ? AND created = ? "
                "AND inputs_sha256 = ?",
                (v.plan_dir, v.created, v.inputs_sha256),
            ).fetchone()
            if row is not None:
                con.execute("ROLLBACK")
                return self.version(int(row[0]))
            same = con.execute(
                "SELECT MIN(version_id) FROM versions WHERE inputs_sha256 = ? "
                "AND settings_sha256 = ? AND workspace_toml_sha256 IS ?",
                (v.inputs_sha256, v.settings_sha256, v.workspace_toml_sha256),
            ).fetchone()[0]
            h = v.headline
            s = v.summary
            cur = con.execute(
                "INSERT INTO versions (created, recorded, workspace, workspace_path, plan_dir, "
                "profile, province_group, anju_version, plan_format, inputs_sha256, "
                "settings_sha256, workspace_toml_sha256, same_as, villages, villages_assessed, "
                "ready, blocked, unknown, unconfirmed, km_to_harden, km_unknown_surface, "
                "people_to_relocate, people_to_relocate_poor, n_warnings, summary_json, "
                "settings_json, warnings_json) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    v.created,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    v.workspace,
                    v.workspace_path,
                    v.plan_dir,
                    v.profile,
                    v.province_group,
                    v.anju_version,
                    v.plan_format,
                    v.inputs_sha256,
                    v.settings_sha256,
                    v.workspace_toml_sha256,
                    same,
                    s.get("villages"),
                    s.get("villages_assessed"),
                    h["ready"],
                    h["blocked"],
                    h["unknown"],
                    s.get("unconfirmed"),
                    h["km_to_harden"],
                    h["km_unknown_surface"],
                    h["people_to_relocate"],
                    s.get("people_to_relocate_poor"),
                    len(v.warnings),
                    _dumps(dict(v.summary)),
                    _dumps(dict(v.settings)),
                    _dumps(list(v.warnings)),
                ),
            )
            vid = int(cur.lastrowid or 0)
            con.executemany(
                "INSERT INTO version_inputs (version_id, kind, path, sha256, features) "
                "VALUES (?,?,?,?,?)",
                [(vid, i.kind, i.path, i.sha256, i.features) for i in v.inputs],
            )
            st = snap.states
            cols = list(VILLAGE_COLUMNS)
            con.executemany(
                f"INSERT INTO village_states (version_id, village_id, {', '.join(cols)}) "
                f"VALUES ({', '.join('?' * (len(cols) + 2))})",
                [
                    (vid, vid_, *(_sql(row[c]) for c in cols))
                    for vid_, row in st.villages.iterrows()
                ],
            )
            con.executemany(
                "INSERT INTO indicator_states (version_id, village_id, indicator, status, "
                "quality, value, threshold) VALUES (?,?,?,?,?,?,?)",
                [(vid, *map(_sql, r)) for r in st.indicators.itertuples(index=False)],
            )
            con.executemany(
                "INSERT INTO village_evidence (version_id, village_id, field, source, value) "
                "VALUES (?,?,?,?,?)",
                [(vid, *map(_sql, r)) for r in st.evidence.itertuples(index=False)],
            )
            con.execute(
                "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                "WHERE table_name IN (" + ",".join("?" * len(SCHEMA)) + ")",
                tuple(SCHEMA),
            )
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise LayerSchemaError(
                f"history store {self.path}: cannot record {plan_dir}: {exc}"
            ) from exc
        finally:
            con.close()
        return self.version(vid)

    def versions(self) -> list[Version]:
        return self._versions(None)

    def version(self, version_id: int) -> Version:
        found = self._versions(int(version_id))
        if not found:
            ids = [v.id for v in self._versions(None) if v.id is not None]
            held = (
                f"it holds version{'s' if len(ids) > 1 else ''} {_id_ranges(ids)}"
                if ids
                else "it holds no version yet"
            )
            raise VersionNotFoundError(
                f"history store {self.path}: expected a recorded version id, found "
                f"{version_id!r}; {held}"
            )
        return found[0]

    def village_states(self, version_id: int) -> VillageStates:
        self.version(version_id)  # an unknown id is an error, not an empty version
        con = self._connect()
        try:
            q = (version_id,)
            villages = pd.read_sql_query(
                f"SELECT village_id, {', '.join(VILLAGE_COLUMNS)} FROM village_states "
                "WHERE version_id = ? ORDER BY fid",
                con,
                params=q,
            )
            indicators = pd.read_sql_query(
                "SELECT village_id, indicator, status, quality, value, threshold "
                "FROM indicator_states WHERE version_id = ? ORDER BY fid",
                con,
                params=q,
            )
            evidence = pd.read_sql_query(
                "SELECT village_id, field, source, value FROM village_evidence "
                "WHERE version_id = ? ORDER BY fid",
                con,
                params=q,
            )
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise self._error(exc) from exc
        finally:
            con.close()
        villages = villages.set_index("village_id").astype(object)
        villages = villages.where(villages.notna(), None)
        for c in _BOOL_STATE:  # object: True / False / None, as read from a plan
            villages[c] = pd.Series(
                [_tri(x) for x in villages[c].to_numpy(dtype=object)],
                index=villages.index,
                dtype=object,
            )
        return VillageStates(villages, indicators, evidence.astype(object))

    def _versions(self, only: int | None) -> list[Version]:
        con = self._connect()
        try:
            con.row_factory = sqlite3.Row
            where, args = ("WHERE version_id = ?", (only,)) if only is not None else ("", ())
            rows = con.execute(
                f"SELECT * FROM versions {where} ORDER BY version_id", args
            ).fetchall()
            ids = [int(r["version_id"]) for r in rows]
            inputs: dict[int, list[InputFile]] = {i: [] for i in ids}
            if ids:
                marks = ",".join("?" * len(ids))
                for r in con.execute(
                    f"SELECT version_id, kind, path, sha256, features FROM version_inputs "
                    f"WHERE version_id IN ({marks}) ORDER BY kind, path",
                    ids,
                ):
                    inputs[int(r[0])].append(InputFile(r[1], r[2], r[3], r[4]))
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        finally:
            con.close()
        return [
            Version(
                id=int(r["version_id"]),
                created=r["created"],
                profile=r["profile"],
                province_group=r["province_group"],
                workspace=r["workspace"] or "",
                workspace_path=r["workspace_path"] or "",
                plan_dir=r["plan_dir"] or "",
                anju_version=r["anju_version"] or "",
                plan_format=r["plan_format"],
                inputs_sha256=r["inputs_sha256"],
                settings_sha256=r["settings_sha256"],
                workspace_toml_sha256=r["workspace_toml_sha256"],
                inputs=tuple(inputs[int(r["version_id"])]),
                summary=json.loads(r["summary_json"] or "{}"),
                settings=json.loads(r["settings_json"] or "{}"),
                warnings=tuple(json.loads(r["warnings_json"] or "[]")),
                same_as=r["same_as"],
                recorded=r["recorded"],
            )
            for r in rows
        ]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def _sql(v: Any) -> Any:
    if _missing(v):
        return None
    if isinstance(v, bool | np.bool_):
        return int(bool(v))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


# --------------------------------------------------------------------------- the diff


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def _settings_key(key: str) -> str:
    # "settings.relocation.min_score" reads better as "relocation.min_score"
    return key.removeprefix("settings.")


def _changed_settings(a: Version, b: Version) -> list[dict[str, Any]]:
    fa, fb = _flatten(dict(a.settings)), _flatten(dict(b.settings))
    out = []
    for k in sorted(set(fa) | set(fb)):
        va, vb = fa.get(k), fb.get(k)
        if _dumps(va) != _dumps(vb):
            out.append({"key": _settings_key(k), "a": va, "b": vb})
    return out


def _changed_inputs(a: Version, b: Version) -> list[dict[str, Any]]:
    """Input files that differ, by path (a file read as several layers is one entry)."""

    def by_path(v: Version) -> dict[str, tuple[str | None, list[str]]]:
        out: dict[str, tuple[str | None, list[str]]] = {}
        for i in v.inputs:
            sha, kinds = out.get(i.path, (i.sha256, []))
            out[i.path] = (sha, kinds + [i.kind])
        return out

    pa, pb = by_path(a), by_path(b)
    rows = []
    for path in sorted(set(pa) | set(pb)):
        sa, ka = pa.get(path, (None, []))
        sb, kb = pb.get(path, (None, []))
        if path in pa and path in pb and sa == sb:
            continue
        change = "changed" if path in pa and path in pb else "added" if path in pb else "removed"
        rows.append(
            {
                "path": path,
                "kinds": sorted(set(ka) | set(kb)),
                "change": change,
                "a_sha256": sa,
                "b_sha256": sb,
            }
        )
    return rows


def _pair(a: Any, b: Any) -> dict[str, Any]:
    return {"a": a, "b": b}


def _close(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def _split(s: Any) -> list[str]:
    return [x for x in str(s).split(",") if x] if isinstance(s, str) else []


def _ev_map(states: VillageStates) -> dict[str, dict[str, tuple[str, str | None]]]:
    out: dict[str, dict[str, tuple[str, str | None]]] = {}
    for vid, f, src, val in states.evidence[["village_id", "field", "source", "value"]].itertuples(
        index=False
    ):
        out.setdefault(str(vid), {})[str(f)] = (str(src), None if _missing(val) else str(val))
    return out


def _ind_map(states: VillageStates) -> dict[str, dict[str, tuple[str | None, str | None]]]:
    out: dict[str, dict[str, tuple[str | None, str | None]]] = {}
    for vid, iid, st, q in states.indicators[
        ["village_id", "indicator", "status", "quality"]
    ].itertuples(index=False):
        out.setdefault(str(vid), {})[str(iid)] = (_str(st), _str(q))
    return out


def _village_changes(
    ra: Mapping[str, Any] | None,
    rb: Mapping[str, Any] | None,
    ia: Mapping[str, tuple[str | None, str | None]],
    ib: Mapping[str, tuple[str | None, str | None]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """(changes, groups) of one village between two versions."""
    changes: list[dict[str, Any]] = []
    groups: list[str] = []
    if ra is None or rb is None:
        return changes, groups
    ca, cb = ra.get("blocker_class"), rb.get("blocker_class")
    ya, yb = _num(ra.get("exit_year")), _num(rb.get("exit_year"))
    left_register = cb == "not_registered" and ca not in (None, "not_registered", "hamlet")
    if left_register or (rb.get("exited") is True and ra.get("exited") is not True):
        groups.append("exited")
        changes.append({"what": "exited", "exit_year": int(yb) if yb is not None else None})
    elif ya != yb:
        changes.append({"what": "exit_year", **_pair(ya, yb)})
    ta, tb = ra.get("timetable_status"), rb.get("timetable_status")
    if ta != tb:
        changes.append({"what": "timetable_status", **_pair(ta, tb)})
    if ca != cb:
        ch: dict[str, Any] = {"what": "blocker_class", **_pair(ca, cb)}
        if cb == "ready":
            groups.append("became_ready")
        elif ca == "ready":
            groups.append("no_longer_ready")
        if cb in _BLOCKED and ca not in _BLOCKED:
            groups.append("newly_blocked")
            ch["by"] = _split(rb.get("unmet"))
        elif ca in _BLOCKED and cb not in _BLOCKED and cb != "ready":
            groups.append("unblocked")
        changes.append(ch)
    ua, ub = set(_split(ra.get("unmet"))), set(_split(rb.get("unmet")))
    if ca in _BLOCKED and cb in _BLOCKED and ua != ub:
        groups.append("blocked_by_changed")
        changes.append(
            {"what": "unmet", "a": sorted(ua), "b": sorted(ub), "by": _split(rb.get("unmet"))}
        )
    for iid in list(ia) + [i for i in ib if i not in ia]:
        sa, qa = ia.get(iid, (None, None))
        sb, qb = ib.get(iid, (None, None))
        if (sa, qa) == (sb, qb):
            continue
        changes.append(
            {
                "what": "indicator",
                "indicator": iid,
                "status": _pair(sa, sb),
                "quality": _pair(qa, qb),
            }
        )
        if sa == "unknown" and sb in ("met", "not_met"):
            groups.append("unknown_to_known")
        elif sb == "unknown" and sa in ("met", "not_met"):
            groups.append("known_to_unknown")
        elif sa != sb:
            groups.append("indicator_status_changed")
        else:
            groups.append("evidence_quality_changed")
    ga, gb = _num(ra.get("road_gap_km")), _num(rb.get("road_gap_km"))
    if not _close(ga, gb, 0.0005):
        changes.append({"what": "road_gap_km", **_pair(ga, gb)})
        if ga is not None and gb is not None:
            groups.append("road_hardened" if gb < ga else "road_gap_grew")
        else:
            groups.append("road_gap_unknown" if gb is None else "road_gap_known")
    ka, kb = _num(ra.get("road_unknown_km")), _num(rb.get("road_unknown_km"))
    if not _close(ka, kb, 0.0005):
        changes.append({"what": "road_unknown_km", **_pair(ka, kb)})
    ea, eb = ra.get("eligible"), rb.get("eligible")
    pa, pb = _num(ra.get("people_to_move")), _num(rb.get("people_to_move"))
    if ea != eb:
        changes.append({"what": "eligible", **_pair(ea, eb)})
    if not _close(pa, pb, 0.5):
        changes.append({"what": "people_to_move", **_pair(pa, pb)})
    if ea != eb or not _close(pa, pb, 0.5):
        groups.append("relocation_changed")
    changes.sort(key=lambda c: _CHANGE_ORDER.get(c["what"], 99))
    return changes, list(dict.fromkeys(groups))


#: The order a village's changes are told in: its class first, the timetable last.
_CHANGE_ORDER = {
    w: i
    for i, w in enumerate(
        (
            "blocker_class",
            "exited",
            "exit_year",
            "unmet",
            "indicator",
            "road_gap_km",
            "road_unknown_km",
            "eligible",
            "people_to_move",
            "timetable_status",
        )
    )
}


_ROAD_FIELDS = (
    "road_access",
    "road_evidence",
    "unhardened_km",
    "unknown_surface_km",
    "connection_km",
    "inferred_km",
    "road_snap_m",
    "road_claim_conflict",
    "road_hardened_claimed",
)
#: Evidence that goes with an indicator's evidence column: what can explain its status.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "road_access": _ROAD_FIELDS,
    "poverty_incidence_frac": (
        "population",
        "households",
        "poor_population",
        "poor_households",
        "poverty_incidence_frac",
        "incidence_source",
        "incidence_households_frac",
        "incidence_conflict",
    ),
    "has_safe_water": ("has_safe_water", "water_dist_m", "in_water_service_area"),
    "clinic_standard": ("clinic_standard", "clinic_doctor", "hosts_health_centre"),
    "hosts_health_centre": ("hosts_health_centre", "clinic_standard", "clinic_doctor"),
}
#: Whether a village is assessed at all and when it exits: behind every change of its
#: blocker class or its place in the exit timetable.
_ASSESSED = ("poverty_village", "level", "parent_id", "exit_year", "planned_exit_year")


def _relevant_fields(
    changes: list[dict[str, Any]], indicators: Mapping[str, Any]
) -> set[str] | None:
    """The evidence fields that can explain ``changes`` (None: any field can, as for a
    relocation change, whose rules read terrain, hazards, travel times and the register)."""
    fields: set[str] = set(_ASSESSED)
    for c in changes:
        w = c["what"]
        if w in ("eligible", "people_to_move"):
            return None
        if w in ("road_gap_km", "road_unknown_km"):
            fields.update(_ROAD_FIELDS)
        if w == "indicator":
            meta = indicators.get(c["indicator"]) or {}
            for ev in str(meta.get("evidence") or "").split(","):
                ev = ev.strip()
                if ev:
                    fields.add(ev)
                    fields.update(_FAMILIES.get(ev, ()))
        if w in ("blocker_class", "unmet"):
            fields.update(_FAMILIES["poverty_incidence_frac"])
    return fields


def _why(
    eva: Mapping[str, tuple[str, str | None]],
    evb: Mapping[str, tuple[str, str | None]],
    files: list[dict[str, Any]],
    version_causes: list[dict[str, Any]],
    relevant: set[str] | None,
) -> list[dict[str, Any]]:
    """Why a village changed: its own inputs and its measured evidence that differ (each
    ``relevant`` when it can explain the change), the changed input files those come from,
    and what changed for the whole version (profile, settings, workspace.toml, anju)."""
    why: list[dict[str, Any]] = []
    for f in list(eva) + [f for f in evb if f not in eva]:
        src, va = eva.get(f, (evb.get(f, ("input", None))[0], None))
        vb = evb.get(f, (src, None))[1]
        if va == vb:
            continue
        item: dict[str, Any] = {
            "source": "village input" if src == "input" else "measured",
            "field": f,
            **_pair(va, vb),
            "from": ["villages"] if src == "input" else list(MEASURED_FIELDS.get(f, ())),
            "relevant": relevant is None or f in relevant,
        }
        why.append(item)
    if why and not any(w["relevant"] for w in why):
        for w in why:  # nothing matched the change: every difference may explain it
            w["relevant"] = True
    layers = {k for w in why if w["relevant"] for k in w["from"]}
    related = [fi for fi in files if layers & set(fi["kinds"])]
    for fi in related or ([] if why else files):
        why.append({"source": "input file", **fi, "relevant": True})
    why += [{**c, "relevant": True} for c in version_causes]
    if not why:
        why.append(
            {
                "source": "unexplained",
                "text": "no recorded input, setting, profile or anju version differs",
                "relevant": True,
            }
        )
    return why


def diff_snapshots(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """What changed from ``a`` to ``b``, with why, as a JSON-safe dict.

    Keys: ``a``, ``b`` (the versions), ``same_inputs``, ``same_settings``,
    ``inputs_changed`` (files by path: ``change`` changed/added/removed, both checksums),
    ``settings_changed`` (dotted keys), ``profile``, ``anju_version``,
    ``workspace_toml_changed`` (None when either is unknown), ``headline`` (each figure's
    ``a``, ``b``, ``delta``), ``groups`` (village ids per kind of change: became_ready,
    no_longer_ready, exited, newly_blocked, unblocked, blocked_by_changed,
    unknown_to_known, known_to_unknown, indicator_status_changed,
    evidence_quality_changed, road_hardened, road_gap_grew, road_gap_unknown,
    road_gap_known, relocation_changed, added, removed) and ``villages`` (each changed
    village: ``village_id``, ``name``, ``township``, ``changes``, ``why``).

    A village's ``changes`` are dicts with ``what``: ``blocker_class`` (with ``by``, the
    unmet indicators, when newly blocked), ``exited`` (with ``exit_year``), ``exit_year``,
    ``unmet``, ``indicator`` (``status`` and ``quality``, each ``a``/``b``),
    ``road_gap_km``, ``road_unknown_km``, ``eligible``, ``people_to_move``,
    ``timetable_status``. Its ``why`` lists, each with ``source``: its own input
    attributes that differ (``village input``), its measured evidence that differs
    (``measured``, with the input layers it is measured ``from``), the changed input files
    behind those (``input file``, by checksum), and the version's ``profile``,
    ``settings``, ``workspace.toml`` and ``anju version`` changes; ``relevant`` is False
    for a difference that cannot explain the village's changes (a travel time when only
    its road indicator moved); ``unexplained`` when nothing recorded differs.
    """
    va, vb = a.version, b.version
    files = _changed_inputs(va, vb)
    settings = _changed_settings(va, vb)
    causes: list[dict[str, Any]] = []
    if va.profile != vb.profile:
        causes.append({"source": "profile", **_pair(va.profile, vb.profile)})
    if settings:
        causes.append(
            {"source": "settings", "keys": [s["key"] for s in settings], "changes": settings}
        )
    toml_changed = (
        None
        if va.workspace_toml_sha256 is None or vb.workspace_toml_sha256 is None
        else va.workspace_toml_sha256 != vb.workspace_toml_sha256
    )
    if toml_changed:
        causes.append({"source": "workspace.toml", "text": "workspace.toml changed"})
    if va.anju_version != vb.anju_version:
        causes.append({"source": "anju version", **_pair(va.anju_version, vb.anju_version)})

    ha, hb = va.headline, vb.headline
    headline = {}
    for k in HEADLINE:
        x, y = ha.get(k), hb.get(k)
        delta = None if x is None or y is None else round(float(y) - float(x), 3)
        headline[k] = {"a": x, "b": y, "delta": delta}

    sa, sb = a.states, b.states
    ia, ib = _ind_map(sa), _ind_map(sb)
    indicators_b = {
        **dict(va.settings.get("indicators") or {}),
        **dict(vb.settings.get("indicators") or {}),
    }
    ea, eb = _ev_map(sa), _ev_map(sb)
    groups: dict[str, list[str]] = {
        g: []
        for g in (
            "became_ready",
            "no_longer_ready",
            "exited",
            "newly_blocked",
            "unblocked",
            "blocked_by_changed",
            "unknown_to_known",
            "known_to_unknown",
            "indicator_status_changed",
            "evidence_quality_changed",
            "road_hardened",
            "road_gap_grew",
            "road_gap_unknown",
            "road_gap_known",
            "relocation_changed",
            "added",
            "removed",
        )
    }
    villages = []
    ids_a, ids_b = list(sa.villages.index), list(sb.villages.index)
    set_a = set(ids_a)
    for vid in ids_a + [i for i in ids_b if i not in set_a]:
        ra = sa.villages.loc[vid].to_dict() if vid in sa.villages.index else None
        rb = sb.villages.loc[vid].to_dict() if vid in sb.villages.index else None
        if ra is None or rb is None:
            g = "added" if ra is None else "removed"
            groups[g].append(str(vid))
            row = rb if rb is not None else ra
            assert row is not None
            villages.append(
                {
                    "village_id": str(vid),
                    "name": row.get("name"),
                    "township": row.get("township"),
                    "changes": [{"what": g, "blocker_class": row.get("blocker_class")}],
                    "why": [
                        {"source": "input file", **fi} for fi in files if "villages" in fi["kinds"]
                    ]
                    or [{"source": "input file", **fi} for fi in files] + causes,
                }
            )
            continue
        changes, gs = _village_changes(ra, rb, ia.get(vid, {}), ib.get(vid, {}))
        if not changes:
            continue
        for g in gs:
            groups[g].append(str(vid))
        villages.append(
            {
                "village_id": str(vid),
                "name": rb.get("name"),
                "township": rb.get("township"),
                "changes": changes,
                "why": _why(
                    ea.get(vid, {}),
                    eb.get(vid, {}),
                    files,
                    causes,
                    _relevant_fields(changes, indicators_b),
                ),
            }
        )
    same_inputs = va.inputs_sha256 == vb.inputs_sha256
    same_settings = va.settings_sha256 == vb.settings_sha256
    return {
        "a": va.to_dict(),
        "b": vb.to_dict(),
        "same_inputs": same_inputs,
        "same_settings": same_settings,
        "inputs_changed": files,
        "settings_changed": settings,
        "profile": _pair(va.profile, vb.profile),
        "anju_version": _pair(va.anju_version, vb.anju_version),
        "workspace_toml_changed": toml_changed,
        "headline": headline,
        "groups": groups,
        "villages": villages,
    }


# --------------------------------------------------------------------------- as text


def _when(created: str | None) -> str:
    if not created:
        return "?"
    try:
        t = datetime.fromisoformat(created)
    except ValueError:
        return created
    if t.tzinfo is not None:
        return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return t.strftime("%Y-%m-%d %H:%M")


def _fig(v: Any, *, km: bool = False) -> str:
    if v is None:
        return "?"
    if km:
        return f"{float(v):.1f}"
    return f"{float(v):g}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}"


def format_version(v: Version) -> str:
    """One line of ``anju history``: id, date, profile, inputs checksum, headline figures."""
    h = v.headline
    same = f"; same inputs and settings as version {v.same_as}" if v.same_as else ""
    return (
        f"{v.id}  {_when(v.created)}  {v.profile}  inputs {v.inputs_sha256[:8]}  "
        f"ready {_fig(h['ready'])}, blocked {_fig(h['blocked'])}, "
        f"{_fig(h['km_to_harden'], km=True)} km to harden, "
        f"{_fig(h['people_to_relocate'])} people to relocate{same}"
    )


def _short(v: Any) -> str:
    if v is None:
        return "blank"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(map(str, v)) or "none"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _km(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f}"


def _change_text(c: Mapping[str, Any]) -> str:
    w = c["what"]
    if w == "blocker_class":
        by = f" (by {', '.join(c['by'])})" if c.get("by") else ""
        return f"blocker class {c['a']} → {c['b']}{by}"
    if w == "unmet":
        return f"blocked by {_short(c['a'])} → {_short(c['b'])}"
    if w == "indicator":
        st, q = c["status"], c["quality"]
        return f"{c['indicator']} {st['a']} ({q['a']}) → {st['b']} ({q['b']})"
    if w == "road_gap_km":
        a, b = c["a"], c["b"]
        tail = ""
        if a is not None and b is not None:
            tail = f": {a - b:.2f} km hardened" if b < a else f": {b - a:.2f} km more to harden"
        return f"known road gap {_km(a)} → {_km(b)} km{tail}"
    if w == "road_unknown_km":
        return f"road of unknown surface {_km(c['a'])} → {_km(c['b'])} km"
    if w == "eligible":
        return f"relocation eligible {_short(c['a'])} → {_short(c['b'])}"
    if w == "people_to_move":
        return f"people to move {_fig(c['a'])} → {_fig(c['b'])}"
    if w == "exited":
        year = f" in {c['exit_year']}" if c.get("exit_year") is not None else ""
        return f"exited the poverty register{year}"
    if w == "exit_year":
        return f"exit year {_fig(c['a'])} → {_fig(c['b'])}"
    if w == "timetable_status":
        return f"timetable {_short(c['a'])} → {_short(c['b'])}"
    if w in ("added", "removed"):
        return f"village {w} (blocker class {c.get('blocker_class')})"
    return w


def _file_text(fi: Mapping[str, Any]) -> str:
    kinds = ", ".join(fi["kinds"])
    if fi["change"] == "changed":
        return (
            f"{fi['path']} ({kinds}) changed: sha256 {str(fi['a_sha256'])[:8]} → "
            f"{str(fi['b_sha256'])[:8]}"
        )
    return f"{fi['path']} ({kinds}) {fi['change']}"


def _cause_text(c: Mapping[str, Any], *, limit: int = 4) -> str:
    s = c["source"]
    if s == "village input":
        return f"input {c['field']} {_short(c['a'])} → {_short(c['b'])}"
    if s == "measured":
        frm = f" [from {', '.join(c['from'])}]" if c.get("from") else ""
        return f"measured {c['field']} {_short(c['a'])} → {_short(c['b'])}{frm}"
    if s == "input file":
        return "file " + _file_text(c)
    if s == "settings":
        ch = c["changes"]
        shown = "; ".join(f"{x['key']} {_short(x['a'])} → {_short(x['b'])}" for x in ch[:limit])
        more = f"; and {len(ch) - limit} more" if len(ch) > limit else ""
        return f"settings {shown}{more}"
    if s == "profile":
        return f"profile {c['a']} → {c['b']}"
    if s == "anju version":
        return f"anju {c['a']} → {c['b']}"
    return str(c.get("text", s))


_GROUP_TEXT = {
    "became_ready": "became ready",
    "no_longer_ready": "no longer ready",
    "exited": "exited the poverty register",
    "newly_blocked": "newly blocked",
    "unblocked": "no longer blocked (not yet ready)",
    "blocked_by_changed": "blocked by other indicators",
    "unknown_to_known": "unknown → known",
    "known_to_unknown": "known → unknown",
    "indicator_status_changed": "indicator status changed",
    "evidence_quality_changed": "evidence quality changed",
    "road_hardened": "known road gap fell (hardened)",
    "road_gap_grew": "known road gap grew",
    "road_gap_unknown": "known road gap became unknown",
    "road_gap_known": "road gap measured (was unknown)",
    "relocation_changed": "relocation changed",
    "added": "villages added",
    "removed": "villages removed",
}


def _vname(v: Mapping[str, Any]) -> str:
    return f"{v['village_id']} {v.get('name') or ''}".strip()


def format_diff(d: Mapping[str, Any]) -> list[str]:
    """The lines ``anju diff`` prints for :func:`diff_snapshots`' result."""
    a, b = d["a"], d["b"]
    lines = [
        f"{a['label']} ({_when(a['created'])}, {a['profile']}) → "
        f"{b['label']} ({_when(b['created'])}, {b['profile']})"
    ]
    if d["same_inputs"]:
        lines.append(f"inputs: the same (checksum {a['inputs_sha256'][:8]})")
    else:
        lines.append(
            f"inputs: {a['inputs_sha256'][:8]} → {b['inputs_sha256'][:8]}: "
            + "; ".join(_file_text(fi) for fi in d["inputs_changed"])
        )
    if d["same_settings"]:
        lines.append("settings: the same")
    else:
        ch = d["settings_changed"]
        lines.append(
            "settings: " + "; ".join(f"{x['key']} {_short(x['a'])} → {_short(x['b'])}" for x in ch)
        )
    if d["profile"]["a"] != d["profile"]["b"]:
        lines.append(f"profile: {d['profile']['a']} → {d['profile']['b']}")
    if d["workspace_toml_changed"]:
        lines.append("workspace.toml: changed")
    if d["anju_version"]["a"] != d["anju_version"]["b"]:
        lines.append(f"anju: {d['anju_version']['a']} → {d['anju_version']['b']}")
    parts = []
    for k, label in HEADLINE.items():
        h = d["headline"][k]
        km = k.startswith("km")
        delta = h["delta"]
        sign = "" if not delta else f" ({delta:+.1f})" if km else f" ({delta:+g})"
        parts.append(f"{label} {_fig(h['a'], km=km)} → {_fig(h['b'], km=km)}{sign}")
    lines.append("headline: " + "; ".join(parts))
    by_id = {v["village_id"]: v for v in d["villages"]}
    for g, ids in d["groups"].items():
        if not ids:
            continue
        shown = []
        for vid in ids[:20]:
            v = by_id.get(vid, {"village_id": vid})
            extra = ""
            if g == "newly_blocked":
                by = [c.get("by") for c in v.get("changes", []) if c["what"] == "blocker_class"]
                extra = f" by {','.join(by[0])}" if by and by[0] else ""
            shown.append(_vname(v) + extra)
        more = f", and {len(ids) - 20} more" if len(ids) > 20 else ""
        lines.append(f"{_GROUP_TEXT[g]} ({len(ids)}): {', '.join(shown)}{more}")
    if not d["villages"]:
        lines.append("no village changed")
        return lines
    lines.append(f"{len(d['villages'])} village(s) changed:")
    for v in d["villages"]:
        town = f" ({v['township']})" if v.get("township") else ""
        lines.append(f"  {_vname(v)}{town}: " + "; ".join(_change_text(c) for c in v["changes"]))
        why = [c for c in v["why"] if c.get("relevant", True)]
        other = [c["field"] for c in v["why"] if not c.get("relevant", True)]
        also = f"; also differ: {', '.join(other)}" if other else ""
        lines.append("    why: " + "; ".join(_cause_text(c) for c in why) + also)
    return lines
