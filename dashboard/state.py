"""Where a request finds its plan, configuration and language.

``create_app`` stores the plan directory and configuration in the Flask config; page
layouts and callbacks read them here. With a shared store (:func:`set_store`) the plan
directory is the local folder of the store's current version. A process-wide fallback is
kept for background callbacks, which run outside any Flask request.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context, has_request_context, request

from dashboard.i18n import DEFAULT_LANG, LANGS
from dashboard.plan import StoreSource, load_plan

LANG_COOKIE = "anju_lang"
#: The county a browser chose on the province page (its adcode).
COUNTY_COOKIE = "anju_county"
_FALLBACK: dict[str, Any] = {}


@dataclass(frozen=True)
class DashboardConfig:
    """Dashboard settings.

    Attributes
    ----------
    osm : bool
        Offer OpenStreetMap tiles (needs internet) as a basemap; off unless configured
        (``osm = true`` in the ``[dashboard]`` table): the tool works offline.
    tianditu_key : str or None
        A Tianditu key; when given, Tianditu vector and imagery basemaps are offered.
    simplify_m : float
        Geometry simplification tolerance (metres) for the browser.
    precision : int
        Decimal places of coordinates sent to the browser.
    scenario_base : dict
        Fixed overrides merged under the scenario panel's (e.g.
        ``{"suitability": {"robustness_draws": 5, "time_limit_s": 20}}`` for quick runs).
    extra_basemaps : tuple of dict
        More XYZ basemaps: ``{"name": ..., "url": ..., "attribution": ...}``.  Gaode and
        Tencent tiles are in GCJ-02 and appear shifted by up to several hundred metres
        against the plan's CGCS2000 data; do not add them without converting.
    """

    osm: bool = False
    tianditu_key: str | None = None
    simplify_m: float = 20.0
    precision: int = 5
    extra_basemaps: tuple = field(default_factory=tuple)
    scenario_base: dict = field(default_factory=dict)

    @classmethod
    def from_any(cls, config: DashboardConfig | dict | None) -> DashboardConfig:
        """Build from None, a dict (unknown keys refused) or a config."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        allowed = set(cls.__dataclass_fields__)
        unknown = set(config) - allowed
        if unknown:
            raise ValueError(
                f"dashboard config: unknown keys {sorted(unknown)}; expected some of {sorted(allowed)}"
            )
        cfg = dict(config)
        if "extra_basemaps" in cfg:
            cfg["extra_basemaps"] = tuple(cfg["extra_basemaps"])
        return cls(**cfg)

    @classmethod
    def from_toml(cls, path: Path | str) -> DashboardConfig:
        """Read the ``[dashboard]`` table of a TOML file, e.g.::

            [dashboard]
            osm = false                      # a county network that cannot reach foreign tiles
            tianditu_key = "your-key"        # offers Tianditu vector and imagery basemaps

        Raises
        ------
        ValueError
            Unreadable TOML, or unknown keys (named, with the valid ones).
        """
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the dashboard config: {exc}") from exc
        return cls.from_any(doc.get("dashboard", {}))


def set_fallback(plan_dir: Path, config: DashboardConfig) -> None:
    """Remember the plan and config for code running outside a request."""
    _FALLBACK["plan_dir"] = Path(plan_dir)
    _FALLBACK["config"] = config


def set_store(app: Any, source: StoreSource | None) -> None:
    """Serve the current version of a shared plan store (``anju serve --store URL``).

    ``source`` goes into the app's Flask config (``ANJU_STORE``, for requests) and the
    process-wide fallback (background callbacks); None forgets it.
    """
    if source is None:
        app.server.config.pop("ANJU_STORE", None)
        _FALLBACK.pop("store", None)
        return
    app.server.config["ANJU_STORE"] = source
    _FALLBACK["store"] = source


def _flask_config() -> dict | None:
    return current_app.config if has_app_context() else None


def set_province(app: Any, root: Path | None) -> None:
    """Serve a province output folder (``anju serve --province OUT``): the province page
    and, for the other pages, the plan of the county each browser chose there (cookie
    :data:`COUNTY_COOKIE`; the first county with a plan by default). None forgets it."""
    if root is None:
        app.server.config.pop("ANJU_PROVINCE", None)
        _FALLBACK.pop("province", None)
        return
    app.server.config["ANJU_PROVINCE"] = Path(root)
    _FALLBACK["province"] = Path(root)


def province_dir() -> Path | None:
    """The province output folder the app serves (None: a single county)."""
    cfg = _flask_config()
    if cfg is not None:
        root = cfg.get("ANJU_PROVINCE")
        return Path(root) if root is not None else None
    return _FALLBACK.get("province")


def current_county() -> str | None:
    """The adcode of the county this request's pages show (a province only): the browser's
    choice when it names a county with a plan, else the province's first such county."""
    root = province_dir()
    if root is None:
        return None
    from dashboard.province import load_province  # deferred: only a province needs it

    prov = load_province(root)
    chosen = request.cookies.get(COUNTY_COOKIE) if has_request_context() else None
    if chosen and prov.plan_dir(chosen) is not None:
        return chosen
    return prov.default_county()


def plan_dir() -> Path:
    """The plan directory of the running app (with a store: its current version's folder;
    with a province: the chosen county's plan, :func:`current_county`)."""
    cfg = _flask_config()
    if cfg is not None:
        if cfg.get("ANJU_STORE") is not None:
            return cfg["ANJU_STORE"].plan_dir()
        if cfg.get("ANJU_PROVINCE") is not None:
            adcode = current_county()
            if adcode is not None:
                return Path(cfg["ANJU_PROVINCE"]) / adcode
        if "ANJU_PLAN_DIR" in cfg:
            return Path(cfg["ANJU_PLAN_DIR"])
    if _FALLBACK.get("store") is not None:
        return _FALLBACK["store"].plan_dir()
    return Path(_FALLBACK.get("plan_dir", "data/demo/plan"))


def config() -> DashboardConfig:
    """The dashboard configuration of the running app."""
    cfg = _flask_config()
    if cfg is not None and "ANJU_CONFIG" in cfg:
        return cfg["ANJU_CONFIG"]
    return _FALLBACK.get("config", DashboardConfig())


def lang() -> str:
    """The language of this request (cookie ``anju_lang``), ``zh`` by default."""
    if has_request_context():
        v = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
        return v if v in LANGS else DEFAULT_LANG
    return DEFAULT_LANG


def get_plan():
    """Load the current plan (cached); raises the loader's errors."""
    c = config()
    return load_plan(plan_dir(), simplify_m=c.simplify_m, precision=c.precision)
