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
LEGEND_BLOCKER = "legend-blocker"  # legend rows of the main-blocker view, with counts
BLOCKER_COUNT = "blocker-count"  # pattern id type: the count beside a blocker legend row
TOWNSHIP_LABELS = "township-labels"  # township names on the map
VILLAGE_LABELS = "village-labels"  # village names on the map (shown when zoomed in)
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
RELOC_STATUS = "reloc-status"  # box of the run's outcome (done, failed, cancelled)
RELOC_SOLVER = "reloc-solver"  # fast heuristic or exact HiGHS for the scenario
RELOC_STAGE = "reloc-stage"  # the running step under the progress bar
RELOC_PROGRESS_BOX = "reloc-progress-box"  # progress bar and step, shown while running
RELOC_VIEW = "reloc-view"  # radio: the map and tables show the baseline or the scenario
RELOC_STORE = "reloc-scenario-store"  # the last scenario's view (viewmodels.relocation_view)
RELOC_SUMMARY = "reloc-summary"
RELOC_UNPLACED = "reloc-unplaced"
RELOC_NOTES = "reloc-notes"
RELOC_BADGE = "reloc-map-badge"  # "map shows: baseline / scenario" on the map
RELOC_CAND_TITLE = "reloc-cand-title"
RELOC_SITES_TITLE = "reloc-sites-title"
RELOC_TABS = "reloc-tabs"
RELOC_FLOWS = "reloc-flows"
RELOC_CANDS = "reloc-cands"
RELOC_SITES_OPEN = "reloc-sites"
RELOC_SITE_POINTS_OPEN = "reloc-site-points"
RELOC_SITES_IDLE = "reloc-sites-idle"
RELOC_SITE_POINTS_IDLE = "reloc-site-points-idle"
RELOC_EXACT_POLL = "reloc-exact-poll"  # interval: polls the background exact solve while it runs
RELOC_EXACT_LINE = "reloc-exact-line"  # the exact solve running, with its seconds
RELOC_ANSWER = "reloc-answer"  # which answer the scenario shows (heuristic, exact, gap)

# briefing
BRIEF_PDF = "brief-pdf"
BRIEF_PNG = "brief-png"
BRIEF_DOWNLOAD = "brief-download"
BRIEF_HEADLINES = "brief-headlines"
BRIEF_RANKING = "brief-ranking"
BRIEF_NOTES = "brief-notes"
DEM_NOTE = "dem-note"  # the DEM resolution line (a warning when coarse)
# the progress page
PROGRESS_MAP = "progress-map"
PROGRESS_YEAR = "progress-year"  # the year slider
PROGRESS_VILLAGES = "progress-villages"
PROGRESS_COUNT = "progress-count"  # pattern id type: a state's count in the legend
PROGRESS_HEAD = "progress-head"
PROGRESS_TOWNSHIPS = "progress-townships"
PROGRESS_TW_GRID = "progress-tw-grid"
PROGRESS_RISK_HEAD = "progress-risk-head"
PROGRESS_RISK = "progress-risk"
PROGRESS_RISK_GRID = "progress-risk-grid"
PROGRESS_SITES = "progress-sites"
PROGRESS_VERSIONS = "progress-versions"
PROGRESS_META = "progress-meta"
