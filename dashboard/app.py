"""The Dash application factory: ``create_app(plan_dir)``.

``anju serve OUT`` and ``python app.py`` call :func:`create_app` and ``app.run``.
Pages live in ``dashboard/pages`` (Dash ``use_pages``); each has a ``layout`` function
that reads the plan through :mod:`dashboard.state`.
"""

from __future__ import annotations

import html as html_text
import json
import re
import threading
from pathlib import Path

import dash
import numpy as np
from dash import ALL, Input, Output, State, clientside_callback, dcc, html
from flask import Response, abort, request

from dashboard import auth, ids, security, state
from dashboard.components import PAGES, context_geojson, navbar, village_data
from dashboard.i18n import t
from dashboard.plan import plan_status
from dashboard.state import DashboardConfig, get_plan, lang, set_fallback
from dashboard.tiles import register_tiles, render_tile, shade
from layers.errors import AnjuError

PACKAGE_DIR = Path(__file__).resolve().parent

#: Component libraries that pages load only when they use them: ``register_page(...,
#: libraries=[...])`` names the ones a page's layout needs (default: all of these).
#: dash-ag-grid's bundle is 1.3 MB of JavaScript the coverage map never runs.
DEFERRABLE = ("dash_ag_grid",)

#: The element that lists a page's deferred bundles for assets/anju.js (a JSON data block:
#: never executed, so the Content-Security-Policy has nothing to allow).
DEFERRED_ID = "anju-deferred-scripts"


def deferred_libraries(path: str) -> list[str]:
    """The :data:`DEFERRABLE` libraries the page at ``path`` does not use (none for a path
    that is no registered page: such a page downloads everything)."""
    for page in dash.page_registry.values():
        if page.get("path") == path:
            used = page.get("libraries")
            return [] if used is None else [lib for lib in DEFERRABLE if lib not in used]
    return []


def defer_scripts(scripts: str, libraries: list[str]) -> str:
    """Dash's ``<script src>`` tags without those of ``libraries``' bundles, plus a data
    block listing their addresses: assets/anju.js loads them, in that order, before the
    browser moves to a page that needs them."""
    if not libraries:
        return scripts
    libs = "|".join(re.escape(lib) for lib in libraries)
    pat = re.compile(rf'<script src="([^"]*/_dash-component-suites/(?:{libs})/[^"]*)"></script>\n?')
    srcs = [html_text.unescape(m.group(1)) for m in pat.finditer(scripts)]
    if not srcs:
        return scripts
    block = json.dumps(srcs).replace("</", "<\\/")
    # first: assets/anju.js, among the scripts, reads it as it runs
    return f'<script id="{DEFERRED_ID}" type="application/json">{block}</script>\n' + pat.sub(
        "", scripts
    )


class _Dash(dash.Dash):
    """Dash whose index page leaves out the component bundles its page does not use."""

    def interpolate_index(self, **kwargs):  # type: ignore[override]
        path = "/" + self.strip_relative_path(request.path or "/") if request else "/"
        kwargs["scripts"] = defer_scripts(kwargs.get("scripts", ""), deferred_libraries(path))
        return super().interpolate_index(**kwargs)


def _shell() -> html.Div:
    lg = lang()
    return html.Div(
        [
            dcc.Location(id=ids.URL),
            dcc.Store(id=ids.LANG_STORE, data=lg),
            _province_nav(navbar(lg), lg),
            html.Div(dash.page_container, className="page"),
        ]
    )


def _background_manager(cache_dir: Path | None):
    """A DiskcacheManager for scenario runs (None when diskcache is not installed)."""
    try:
        import diskcache
    except ImportError:
        return None
    # a private per-server folder (mode 0700, removed at exit), never a shared fixed one
    d = cache_dir or security.runtime_dir() / "dash-cache"
    d.mkdir(parents=True, exist_ok=True)
    return dash.DiskcacheManager(diskcache.Cache(str(d)))


def create_app(
    plan_dir: Path | str,
    *,
    config: DashboardConfig | dict | None = None,
    province: Path | str | None = None,
) -> dash.Dash:
    """Build the dashboard for a plan directory.

    Parameters
    ----------
    plan_dir : path
        The OUT directory of ``anju run``.  It may be missing: every page then shows an
        alert telling how to build it.
    config : DashboardConfig or dict, optional
        Basemaps and simplification settings (see :class:`DashboardConfig`).
    province : path, optional
        A province output folder (``anju province run --out``): adds the province page
        (``/province``) and serves, on the other pages, the county each browser chooses
        there (``plan_dir`` until it chooses one).

    Returns
    -------
    dash.Dash
        Call ``.run(host=..., port=...)`` to serve it.
    """
    cfg = DashboardConfig.from_any(config)
    pdir = Path(plan_dir).resolve()
    set_fallback(pdir, cfg)
    app = _Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PACKAGE_DIR / "pages"),
        assets_folder=str(PACKAGE_DIR / "assets"),
        suppress_callback_exceptions=True,
        background_callback_manager=_background_manager(None),
        title=t("app_title"),
        update_title=None,
        compress=False,
    )
    app.server.config["ANJU_PLAN_DIR"] = str(pdir)
    app.server.config["ANJU_CONFIG"] = cfg
    state.set_province(app, Path(province).resolve() if province is not None else None)
    _register_county_switch(app.server)
    security.install(app, cfg)
    register_tiles(app.server, lambda: state.plan_dir() / "rasters")
    _register_briefing_map(app.server)
    _register_context_layers(app.server)
    _enable_gzip(app.server)
    app.layout = _shell
    auth.install(app, pdir)  # sign-in and roles when a user store exists
    _warm(app)
    return app


def warm_tiles(plan, *, zooms: tuple[int, ...] = (9, 10, 11), max_tiles: int = 80) -> int:
    """Render the hillshade tiles of the county at the zooms a first visit shows.

    Returns the number of tiles rendered (0 without a DEM).
    """
    if "dem" not in plan.rasters:
        return 0
    import morecantile  # deferred: about 0.2 s of imports, needed only here

    (s, w), (n, e) = plan.bounds
    tms = morecantile.tms.get("WebMercatorQuad")
    done = 0
    for z in zooms:
        for tile in tms.tiles(w, s, e, n, [z]):
            if done >= max_tiles:
                return done
            render_tile(plan.rasters["dem"].parent, "hillshade", tile.z, tile.x, tile.y)
            done += 1
    return done


#: Requests that read the plan: while the warm-up thread loads it, they wait for it rather
#: than load it a second time alongside (the plan cache does not hold concurrent callers
#: back; on 2 cores two loads take twice as long as one).
_PLAN_PATHS = ("/_dash-update-component", "/geojson/")


def _warm(app: dash.Dash) -> None:
    """Prepare the first page in the background so a fresh server shows it quickly.

    In order: the plan and the coverage page's layout (its GeoJSON and other memos, in the
    default language; requests that need the plan wait for these, :data:`_PLAN_PATHS`),
    the hillshade kernel (numba loads it from its cache or, on a fresh install, compiles
    it once into it), the county's hillshade tiles, and last the modules only other pages
    need (the briefing's matplotlib, the AHP weights of the relocation page's controls).
    """
    loaded = threading.Event()

    @app.server.before_request
    def _wait_for_plan() -> None:
        if not loaded.is_set() and request.path.startswith(_PLAN_PATHS):
            loaded.wait(timeout=120)

    def run() -> None:
        with app.server.app_context():
            _warm_province(townships=False)
            try:
                if plan_status(state.plan_dir())[0] == "missing":
                    return
                plan = get_plan()
                village_data(plan)
                home = next(p for p in dash.page_registry.values() if p["path"] == "/")
                with app.server.test_request_context("/"):
                    home["layout"]()
            except AnjuError:
                return  # the page will show the alert
            finally:
                loaded.set()
            _warm_province(townships=True)
            shade(np.zeros((3, 3)), cellsize_m=30.0)
            warm_tiles(plan)
        import dashboard.briefing  # noqa: F401  (the briefing page's first visit)
        import geo.suitability  # noqa: F401  (the relocation page's AHP defaults; scenarios
        # run in their own worker process, which imports the chain itself)

    threading.Thread(target=run, name="anju-warm", daemon=True).start()


def _province_nav(nav: html.Nav, lg: str) -> html.Nav:
    """With a province served: a first navbar link to the province page, and the county
    the other pages show."""
    root = state.province_dir()
    if root is None:
        return nav
    from dashboard.province import load_province

    try:
        county = load_province(root).county_name(state.current_county() or "")
    except AnjuError:
        county = None
    links = nav.children[1]
    extra = [
        dcc.Link(t("nav_province", lg), href="/province", className="nav-link", id="nav-province")
    ]
    if county:
        extra.append(
            html.Span(
                county,
                className="nav-county",
                id="nav-county",
                style={"alignSelf": "center", "margin": "0 0.75em", "opacity": 0.85},
            )
        )
    links.children = [*extra, *links.children]
    return nav


def _warm_province(*, townships: bool) -> None:
    """Read the province (its roll-ups and county polygons: the province page's first
    paint) before the county's plan; with ``townships``, every county's townships too
    (the drill-down payloads), after it."""
    root = state.province_dir()
    if root is None:
        return
    from dashboard.province import load_province

    try:
        prov = load_province(root)
        prov.county_geojson()
        for adcode in prov.adcodes if townships else ():
            prov.township_geojson(adcode)
    except AnjuError:
        return  # the province page will show the alert


def _register_county_switch(server) -> None:
    """``/province/open/<adcode>``: the county's village map (drill-down from the province
    page): remembers the county for this browser (cookie) and opens the coverage page.
    404 when no province is served or ``adcode`` is not one of its counties with a plan."""

    @server.route("/province/open/<adcode>")
    def _open_county(adcode: str):  # pragma: no cover - exercised via HTTP
        from flask import redirect

        from dashboard.province import load_province

        root = state.province_dir()
        if root is None:
            abort(404)
        try:
            plan = load_province(root).plan_dir(adcode)
        except AnjuError:
            abort(404)
        if plan is None:
            abort(404)
        resp = redirect("/")
        resp.set_cookie(
            state.COUNTY_COOKIE,
            adcode,
            max_age=30 * 86400,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
        return resp


def _register_briefing_map(server) -> None:
    """``/briefing/map.png``: the printable readiness map (rendered once per plan and language)."""

    @server.route("/briefing/map.png")
    def _briefing_map():  # pragma: no cover - exercised via HTTP
        # deferred: the briefing module loads matplotlib (about 1 s), needed only for this route
        from dashboard.briefing import BriefingFontError, render_map_png

        try:
            plan = get_plan()
        except AnjuError:
            abort(404)
        lg = lang()
        try:
            data = plan.memo(("map_png", lg), lambda: render_map_png(plan, lg, dpi=110))
        except BriefingFontError as exc:  # no CJK font: say so, never boxes or a 500
            return Response(str(exc), status=503, mimetype="text/plain; charset=utf-8")
        return Response(data, mimetype="image/png")


def _register_context_layers(server) -> None:
    """``/geojson/<key>.json``: the maps' context layers (:func:`context_geojson`), kept a
    day by the browser (their URLs carry the plan's version)."""

    @server.route("/geojson/<key>.json")
    def _context_layer(key: str):  # pragma: no cover - exercised via HTTP
        try:
            plan = get_plan()
        except AnjuError:
            abort(404)
        data = plan.memo(("geojson_bytes", key), lambda: _json_bytes(context_geojson(plan, key)))
        if data is None:
            abort(404)
        resp = Response(data, mimetype="application/json")
        resp.headers["Cache-Control"] = "private, max-age=86400"
        return resp


def _json_bytes(obj) -> bytes | None:
    if obj is None:
        return None
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _enable_gzip(server) -> None:
    """Gzip JSON and JS responses (the GeoJSON payload shrinks about 4x)."""
    try:
        from flask_compress import Compress
    except ImportError:
        return
    server.config.setdefault(
        "COMPRESS_MIMETYPES",
        ["application/json", "text/javascript", "text/css", "text/html", "application/javascript"],
    )
    Compress(server)


clientside_callback(
    "function(n, lang){ return window.dash_clientside.anju.toggleLang(n, lang); }",
    Output(ids.LANG_STORE, "data"),
    Input(ids.LANG_TOGGLE, "n_clicks"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    "function(v, ids){ return window.dash_clientside.anju.opacity(v, ids); }",
    Output({"type": "raster-tile", "name": ALL}, "opacity"),
    Input(ids.RASTER_OPACITY, "value"),
    State({"type": "raster-tile", "name": ALL}, "id"),
    prevent_initial_call=True,
)

clientside_callback(
    """function(path){
        var hrefs = %s;
        return hrefs.map(function(h){ return h === path ? 'nav-link active' : 'nav-link'; });
    }"""
    % [href for href, _ in PAGES],
    [Output(f"nav-{href.strip('/') or 'coverage'}", "className") for href, _ in PAGES],
    Input(ids.URL, "pathname"),
)
