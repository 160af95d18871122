"""Component ids, in one place so callbacks and browser tests agree on them."""

from __future__ import annotations

# shell
LANG_STORE = "lang-store"
LANG_TOGGLE = "lang-toggle"
NAVBAR = "navbar"
PAGE_ALERT = "page-alert"
URL = "url"

# coverage map
MAP = "coverage-map"
VILLAGES = "villages-geojson"
ROADS = "roads-geojson"
FILTER_TOWNSHIP = "filter-township"
FILTER_INDICATOR = "filter-indicator"
FILTER_STATUS = "filter-status"
COUNTS = "filter-counts"
PANEL = "village-panel"
RASTER_OPACITY = "raster-opacity"
LEGEND = "map-legend"
LEGEND_EXIT = "legend-exit"  # legend rows of the exit-readiness view
LEGEND_INDICATOR = "legend-indicator"  # legend rows of an indicator view
WARNINGS = "plan-warnings"

# bureau pages (one id per page built by ``bureau_ids``)


def bureau_ids(page: str) -> dict[str, str]:
    """Ids for a bureau page (``transport``, ``water``, ``health``)."""
    return {
        "map": f"{page}-map",
        "grid": f"{page}-grid",
        "grid2": f"{page}-grid2",
        "geojson": f"{page}-geojson",
        "csv": f"{page}-export-csv",
        "xlsx": f"{page}-export-xlsx",
        "geojson_btn": f"{page}-export-geojson",
        "download": f"{page}-download",
        "summary": f"{page}-summary",
    }


# relocation
RELOC_MAP = "reloc-map"
RELOC_GRID = "reloc-grid"
RELOC_SITES_GRID = "reloc-sites-grid"
RELOC_RUN = "reloc-run"
RELOC_CANCEL = "reloc-cancel"
RELOC_PROGRESS = "reloc-progress"
RELOC_RESULT = "reloc-result"
RELOC_COMPARE = "reloc-compare"
RELOC_PARAM = "reloc-param"  # pattern-matching: {"type": RELOC_PARAM, "name": ...}
RELOC_PARAM_VALUE = "reloc-param-value"  # {"type": RELOC_PARAM_VALUE, "name": ...}: value label
RELOC_PARAM_FORMATS = "reloc-param-formats"  # store: display spec of every control
RELOC_SCENARIO_LAYER = "reloc-scenario-layer"

# briefing
BRIEF_PDF = "brief-pdf"
BRIEF_PNG = "brief-png"
BRIEF_DOWNLOAD = "brief-download"
BRIEF_HEADLINES = "brief-headlines"
BRIEF_RANKING = "brief-ranking"
BRIEF_NOTES = "brief-notes"
