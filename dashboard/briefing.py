"""Printable leader's briefing rendered server-side with matplotlib (PDF and map PNG).

Page 1 is the briefing a county leader prints: headline figures, a map of the county (exit
readiness of every village, roads by surface, township boundaries and names, a scale bar
in km and a north arrow), the townships that lag and what blocks them, what closing the
gaps costs at the plan's unit rates, the changes since the previous plan (when one is
given), the township ranking and where the figures come from. Page 2 holds the details:
the blocked villages per township and indicator, the road gaps to harden first, the data
warnings, the unverified thresholds and the full list of inputs.

Fonts: place names are Chinese in either language, so the briefing needs a CJK font
(Debian: ``fonts-noto-cjk``). When matplotlib finds none, its font cache is rebuilt once
(the font may have been installed after matplotlib first ran); when there is still none,
rendering raises :class:`BriefingFontError` naming the package, rather than printing
boxes. A glyph missing from the installed fonts raises the same error.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import textwrap
import threading
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import PureWindowsPath
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rasterio  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib import patheffects as pe  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from pyproj import CRS, Geod, Transformer  # noqa: E402
from shapely.ops import polylabel  # noqa: E402

from dashboard.i18n import fmt_frac, fmt_num, has_key, t  # noqa: E402
from dashboard.plan import Plan  # noqa: E402
from dashboard.tiles import shade  # noqa: E402
from dashboard.viewmodels import (  # noqa: E402
    EXIT_CODES,
    ROAD_COLORS,
    STATUS_COLORS,
    _cny,
    bool_series,
    code_labels,
    dem_line,
    exit_codes,
    headline_numbers,
    profile_line,
    ranked_road_gaps,
    road_state,
    township_ranking,
    unverified_indicators,
)
from layers.errors import AnjuError  # noqa: E402
from layers.history import history_path, open_history  # noqa: E402

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
)
#: The Debian package that gives matplotlib a CJK font.
CJK_PACKAGE = "fonts-noto-cjk"
#: matplotlib's warning when a character has no glyph in any font of the family list.
GLYPH_MISSING = r"Glyph \d+ .* missing from font"
A4_PORTRAIT = (8.27, 11.69)

#: Headline cards of the web page in two groups: exit readiness (by blocker class: ready +
#: unconfirmed + blocked + unknown = assessed; assessed + not assessed = villages) and the gaps.
HEADLINE_GROUPS = (
    (
        "headline_exit",
        (
            ("villages", "villages_total"),
            ("villages_assessed", "villages_assessed"),
            ("exit_ready", "ready"),
            ("unconfirmed", "unconfirmed"),
            ("blocked_one", "blocked_one"),
            ("blocked_several", "blocked_several"),
            ("unknown", "unknown_villages"),
            ("not_assessed", "not_assessed_villages"),
        ),
    ),
    (
        "headline_gaps",
        (
            ("km_to_harden", "km_known_unhardened"),
            ("km_unknown_surface", "km_unknown_surface"),
            ("km_to_connect", "km_to_connect"),
            ("no_safe_water", "no_safe_water"),
            ("no_standard_clinic", "no_standard_clinic"),
            ("clinic_unknown", "clinic_unknown"),
            ("people_to_relocate", "people_to_relocate"),
        ),
    ),
)
HEADLINE_KEYS = tuple(item for _, items in HEADLINE_GROUPS for item in items)
#: The printed page's headline cards (the exit classes of the assessed villages).
PRINT_HEADLINES = (
    ("villages_assessed", "villages_assessed"),
    ("exit_ready", "ready"),
    ("blocked_one", "blocked_one"),
    ("blocked_several", "blocked_several"),
    ("unknown", "unknown_villages"),
    ("unconfirmed", "brief_card_unconfirmed"),
)
#: Bars of the township ranking: column, status code (colour), label key.
RANKING_BARS = (
    ("ready", "m", "ready"),
    ("unconfirmed", "i", "col_unconfirmed"),
    ("blocked", "n", "col_not_met"),
    ("unknown", "u", "col_unknown"),
    ("not_assessed", "x", "col_not_assessed"),
)
#: Summary figures compared with the previous plan: summary key(s), label key, decimals.
CHANGE_KEYS: tuple[tuple[tuple[str, ...], str, int], ...] = (
    (("villages_assessed",), "villages_assessed", 0),
    (("exit_ready", "ready"), "ready", 0),
    (("unconfirmed",), "unconfirmed", 0),
    (("blocked_one",), "blocked_one", 0),
    (("blocked_several",), "blocked_several", 0),
    (("unknown",), "unknown_villages", 0),
    (("km_to_harden",), "km_known_unhardened", 1),
    (("km_unknown_surface",), "km_unknown_surface", 1),
    (("no_safe_water",), "no_safe_water", 0),
    (("no_standard_clinic",), "no_standard_clinic", 0),
    (("clinic_unknown",), "clinic_unknown", 0),
    (("people_to_relocate",), "people_to_relocate", 0),
    (("people_placed",), "cmp_people_placed", 0),
    (("people_unplaced",), "cmp_people_unplaced", 0),
    (("sites_opened",), "cmp_sites_opened", 0),
)
#: Line width of a road on the printed map by class (points).
ROAD_WIDTHS = {
    "national": 1.6,
    "provincial": 1.4,
    "county": 1.1,
    "township": 0.9,
    "village": 0.6,
    "track": 0.45,
    "path": 0.4,
}
#: Road surface states on the printed map, drawing order and style.
ROAD_STYLES = (
    ("hardened", ROAD_COLORS["hardened"], "-"),
    ("inferred", ROAD_COLORS["inferred"], (0, (3, 1.5))),
    ("unknown", ROAD_COLORS["unknown"], (0, (2, 1.5))),
    ("unhardened", ROAD_COLORS["unhardened"], "-"),
)
#: China Standard Time, in which the plan's creation time is printed.
CST = timezone(timedelta(hours=8))

_RENDER_LOCK = threading.Lock()  # pyplot and the warning filters are process-wide
_font_state = {"rebuilt": False}


class BriefingFontError(AnjuError, RuntimeError):
    """The briefing cannot be printed without boxes: no CJK font, or a missing glyph."""


def headline_digits(key: str) -> int:
    """Decimals of a headline figure (km to one decimal, counts whole)."""
    return 1 if key.startswith("km_") else 0


# --------------------------------------------------------------------------- fonts


def _find_cjk(ttflist: Sequence[Any]) -> str | None:
    names = {f.name for f in ttflist}
    return next((fam for fam in CJK_FAMILIES if fam in names), None)


def rebuild_font_cache() -> None:
    """Rescan the system fonts and rewrite matplotlib's font cache.

    matplotlib caches its font list on first use; a font installed later (``apt-get
    install fonts-noto-cjk``) stays invisible until the cache is rebuilt. The live font
    manager is updated in place, because the backends hold a reference to it.
    """
    fresh = font_manager._load_fontmanager(try_read_cache=False)
    fm = font_manager.fontManager
    fm.ttflist = fresh.ttflist
    fm.afmlist = fresh.afmlist
    fm._findfont_cached.cache_clear()
    log.info("rebuilt matplotlib's font cache (%d fonts)", len(fm.ttflist))


def cjk_font() -> str | None:
    """Name of an installed CJK font family, or None.

    When matplotlib knows none, its font cache is rebuilt once per process before giving up.
    """
    fam = _find_cjk(font_manager.fontManager.ttflist)
    if fam is None and not _font_state["rebuilt"]:
        _font_state["rebuilt"] = True
        rebuild_font_cache()
        fam = _find_cjk(font_manager.fontManager.ttflist)
    return fam


def require_cjk_font() -> str:
    """The CJK font family the briefing prints with.

    Raises
    ------
    BriefingFontError
        When no CJK font is installed (the message names the package to install).
    """
    fam = cjk_font()
    if fam is None:
        raise BriefingFontError(
            "briefing: expected a CJK font for the Chinese place names and text, found none "
            f"among matplotlib's fonts (looked for {', '.join(CJK_FAMILIES[:3])}, …, after "
            f"rebuilding the font cache); install one with `apt-get install {CJK_PACKAGE}` "
            "and restart the dashboard"
        )
    return fam


def briefing_lang(lang: str) -> str:
    """The language the briefing is printed in: ``lang`` itself.

    There is no English fallback without a CJK font: the place names are Chinese in
    either language, so :func:`require_cjk_font` refuses instead of printing boxes.
    """
    return "en" if lang == "en" else "zh"


def _rc(fam: str) -> dict[str, Any]:
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [fam, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "pdf.compression": 9,
        # names come from the data: a township named "$\\frac{1}{$镇" prints as it is,
        # never parsed as mathtext (nor fails to parse)
        "text.parse_math": False,
    }


@contextmanager
def glyph_check() -> Iterator[None]:
    """Turn matplotlib's missing-glyph warnings inside the block into one error.

    Raises
    ------
    BriefingFontError
        Naming every character that would print as a box, and the fonts tried.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", message=GLYPH_MISSING)
        yield
    missing: dict[str, str] = {}
    for w in caught:
        msg = str(w.message)
        m = re.match(r"Glyph (\d+) .*missing from font\(s\) (.*?)\.?$", msg)
        if m is None:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        ch = chr(int(m.group(1)))
        missing[f"{ch!r} (U+{ord(ch):04X})"] = m.group(2)
    if missing:
        fonts = sorted(set(missing.values()))
        raise BriefingFontError(
            f"briefing: {len(missing)} character(s) have no glyph in the fonts "
            f"{', '.join(fonts)} and would print as boxes: {', '.join(sorted(missing))}; "
            f"install a font that has them (`apt-get install {CJK_PACKAGE}` for Chinese)"
        )


@contextmanager
def _printing() -> Iterator[str]:
    """Lock, CJK font, rc parameters and glyph check around one rendering."""
    fam = require_cjk_font()
    with _RENDER_LOCK, plt.rc_context(_rc(fam)), glyph_check():
        yield fam


# --------------------------------------------------------------------------- numbers


def fmt_int(value: Any) -> str:
    """A whole number with thousands separators (``12,318``; ``—`` when missing)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(x) else f"{x:,.0f}"


def fmt_km(value: Any) -> str:
    """Kilometres to one decimal (``70.7``; ``—`` when missing)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(x) else f"{x:,.1f}"


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


# --------------------------------------------------------------------------- provenance


def plan_id(manifest: Mapping[str, Any]) -> str:
    """A short id of the plan: the first 8 hex digits of the sha256 of its manifest
    (canonical JSON), so two prints of the same plan carry the same id."""
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def created_text(manifest: Mapping[str, Any], lang: str = "zh") -> str:
    """When the plan was made, in China Standard Time (``2026-12-01 12:06``)."""
    raw = manifest.get("created")
    if not raw:
        return "—"
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        return str(raw)
    if when.tzinfo is None:  # a naive time is printed as written
        return when.strftime("%Y-%m-%d %H:%M")
    return t("brief_cst", lang, time=when.astimezone(CST).strftime("%Y-%m-%d %H:%M"))


def _kind_label(kind: str, lang: str) -> str:
    for key in (f"brief_input_{kind}", kind):
        if has_key(key):
            return t(key, lang)
    return kind


def input_files(manifest: Mapping[str, Any], lang: str = "zh") -> list[tuple[str, str, str]]:
    """The plan's input files, one per file: (file name, short sha256, what it gave).

    Only the file's name is kept, never the folder it was read from on the server.
    """
    files: dict[tuple[str, str], list[str]] = {}
    for item in manifest.get("inputs") or []:
        if not isinstance(item, Mapping):
            continue
        name = PureWindowsPath(str(item.get("path") or "?")).name or "?"
        sha = str(item.get("sha256") or "")[:12]
        kinds = files.setdefault((name, sha), [])
        label = _kind_label(str(item.get("kind") or "?"), lang)
        if label not in kinds:
            kinds.append(label)
    sep = "、" if lang != "en" else ", "
    return [(name, sha, sep.join(kinds)) for (name, sha), kinds in files.items()]


def provenance_lines(manifest: Mapping[str, Any], lang: str = "zh") -> list[str]:
    """Where the figures come from: plan id and creation time, policy profile, anju version
    and CRS, the DEM's resolution, and each input file by name with its sha256."""
    policy = manifest.get("policy") or {}
    title = next(
        (str(policy[k]) for k in (f"title_{lang}", "title", "title_zh", "name") if policy.get(k)),
        "—",
    )
    lines = [
        f"{t('brief_plan_id', lang)} {plan_id(manifest)} · "
        f"{t('created', lang)} {created_text(manifest, lang)}",
        f"{t('policy', lang)}: {title}",
        f"anju {manifest.get('anju_version', '?')} · CRS {manifest.get('crs_metric', '?')}",
    ]
    dem = dem_line(manifest, lang)
    if dem is not None:
        lines.append(dem[0])
    for name, sha, kinds in input_files(manifest, lang):
        lines.append(f"{name} ({kinds}) · sha256 {sha or '—'}")
    return lines


def notes_lines(plan: Plan, lang: str = "zh") -> list[tuple[str, list[str]]]:
    """What the figures rest on, for the page and the PDF: the manifest's warnings and the
    indicators whose threshold or clause is unverified, as (heading, lines) pairs (only
    those with lines)."""
    out = []
    warns = [str(w) for w in plan.manifest.get("warnings") or [] if str(w).strip()]
    if warns:
        out.append((t("warnings", lang), warns))
    unverified = unverified_indicators(plan.indicators, lang)
    if unverified:
        out.append((t("unverified_indicators", lang), unverified))
    return out


# --------------------------------------------------------------------------- townships


def indicator_short_name(ind: Mapping[str, Any], lang: str = "zh") -> str:
    """A short name of an indicator for tables (``饮水``; the name before any bracket)."""
    key = f"brief_ind_{ind.get('id')}"
    if has_key(key):
        return t(key, lang)
    name = str(ind.get("name_en" if lang == "en" else "name_zh") or ind.get("id") or "?")
    return re.split(r"[（(]", name, maxsplit=1)[0].strip() or name


def _id_list(v: Any) -> list[str]:
    if isinstance(v, list | tuple | set | np.ndarray):
        return [str(x) for x in v]
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return []
    return [x for x in (p.strip() for p in str(v).split(",")) if x]


def township_blockers(villages: pd.DataFrame) -> dict[str, Counter[str]]:
    """Per township, how many of its blocked villages fail each indicator (``unmet``).

    Only assessed villages that are not ready count (hamlets and villages off the poverty
    register are not assessed).
    """
    if "unmet" not in villages.columns or "township" not in villages.columns:
        return {}
    blocked = exit_codes(villages) == "n"
    out: dict[str, Counter[str]] = {}
    for tw, unmet in zip(
        villages.loc[blocked, "township"], villages.loc[blocked, "unmet"], strict=True
    ):
        out.setdefault(str(tw), Counter()).update(_id_list(unmet))
    return out


def blockers_text(
    counts: Counter[str] | None,
    indicators: Sequence[Mapping[str, Any]],
    lang: str = "zh",
    *,
    top: int = 3,
) -> str:
    """The main blockers of a township: ``饮水 12、卫生室 9、医保 7`` (most villages first)."""
    if not counts:
        return "—"
    by_id = {str(i["id"]): i for i in indicators}
    parts = [
        f"{indicator_short_name(by_id.get(k, {'id': k}), lang)} {n}"
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    ]
    return ("、" if lang != "en" else ", ").join(parts)


def briefing_ranking(villages: pd.DataFrame) -> pd.DataFrame:
    """Townships ranked so that ties in the share ready are broken by a figure that differs.

    Order: share of assessed villages ready (highest first), then the villages blocked
    (fewest first), then the people in assessed villages not yet ready (fewest first).
    Townships equal on all three share a rank; townships with no assessed village come
    last, unranked (``rank`` NA).

    Returns
    -------
    DataFrame
        The columns of :func:`dashboard.viewmodels.township_ranking` plus ``blocked_one``,
        ``blocked_several`` (NA without ``blocker_class``) and ``people_waiting``.
    """
    base = township_ranking(villages).drop(columns="rank")
    codes = exit_codes(villages)
    assessed_not_ready = codes.isin(["i", "n", "u"])
    pop = (
        pd.to_numeric(villages["population"], errors="coerce").fillna(0)
        if "population" in villages.columns
        else pd.Series(0.0, index=villages.index)
    )
    tw = villages["township"]
    waiting = pop.where(assessed_not_ready, 0.0).groupby(tw, dropna=False).sum()
    base["people_waiting"] = base["township"].map(waiting).fillna(0).astype(int)
    if "blocker_class" in villages.columns:
        bc = villages["blocker_class"]
        for k in ("blocked_one", "blocked_several"):
            n = (bc == k).groupby(tw, dropna=False).sum()
            base[k] = base["township"].map(n).fillna(0).astype(int)
    else:
        base["blocked_one"] = pd.NA
        base["blocked_several"] = pd.NA
    r = base.sort_values(
        ["ready_frac", "blocked", "people_waiting", "township"],
        ascending=[False, True, True, True],
        na_position="last",
        ignore_index=True,
    )
    keys = list(zip(r["ready_frac"], r["blocked"], r["people_waiting"], strict=True))
    ranks: list[Any] = []
    for i, key in enumerate(keys):
        if pd.isna(key[0]):
            ranks.append(pd.NA)
        elif i and keys[i - 1] == key:
            ranks.append(ranks[-1])
        else:
            ranks.append(i + 1)
    r.insert(0, "rank", pd.array(ranks, dtype="Int64"))
    return r


def lagging_townships(ranking: pd.DataFrame, *, n: int = 4) -> pd.DataFrame:
    """The townships at the bottom of the ranking, worst first: the bottom third of the
    ranked townships, at most ``n``, and only those with villages blocked or unknown."""
    ranked = ranking[ranking["rank"].notna()]
    k = min(n, max(1, math.ceil(len(ranked) / 3)))
    bottom = ranked.iloc[::-1].head(k)
    return bottom[(bottom["blocked"] + bottom["unknown"]) > 0]


# --------------------------------------------------------------------------- gaps, changes


def plan_unit_costs(manifest: Mapping[str, Any]) -> dict[str, float]:
    """The unit costs the plan was screened with (manifest ``settings.relocation``, else
    ``parameters.relocation``); only the rates recorded as numbers."""
    rel = ((manifest.get("settings") or {}).get("relocation")) or (
        (manifest.get("parameters") or {}).get("relocation")
    )
    out = {}
    for k in ("road_cny_per_km", "new_road_cny_per_km", "relocation_cny_per_person"):
        x = _num((rel or {}).get(k))
        if x is not None:
            out[k] = x
    return out


def gap_costs(heads: Mapping[str, Any], rates: Mapping[str, float]) -> list[dict[str, Any]]:
    """What closing the gaps takes: road km to harden and to build, km of unknown surface to
    survey, people to relocate, each with its cost at the plan's unit rate when the plan
    records one (``cost`` None otherwise; km of unknown surface are never costed).

    Returns
    -------
    list of dict
        ``key``, ``amount``, ``unit`` (``km`` or ``people``), ``rate`` and ``cost`` (CNY).
    """
    rows = []
    for key, head, rate_key, unit in (
        ("harden", "km_to_harden", "road_cny_per_km", "km"),
        ("connect", "km_to_connect", "new_road_cny_per_km", "km"),
        ("survey", "km_unknown_surface", None, "km"),
        ("relocate", "people_to_relocate", "relocation_cny_per_person", "people"),
    ):
        amount = _num(heads.get(head))
        if amount is None:
            continue
        rate = rates.get(rate_key) if rate_key else None
        rows.append(
            {
                "key": key,
                "amount": amount,
                "unit": unit,
                "rate": rate,
                "cost": amount * rate if rate is not None else None,
            }
        )
    return rows


def summary_changes(
    manifest: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The headline figures that changed since the previous plan.

    Parameters
    ----------
    manifest, previous : mapping
        This plan's manifest and the previous plan's (None: no previous plan, no changes).

    Returns
    -------
    list of dict
        ``label`` (i18n key), ``before``, ``after``, ``delta`` and ``digits``, in the order
        of :data:`CHANGE_KEYS`; figures that one of the two plans lacks are left out.
    """
    if not previous:
        return []
    now, before = manifest.get("summary") or {}, previous.get("summary") or {}
    out = []
    for keys, label, digits in CHANGE_KEYS:
        a = next((_num(before[k]) for k in keys if _num(before.get(k)) is not None), None)
        b = next((_num(now[k]) for k in keys if _num(now.get(k)) is not None), None)
        if a is None or b is None or round(b - a, digits) == 0:
            continue
        out.append({"label": label, "before": a, "after": b, "delta": b - a, "digits": digits})
    return out


def _when(created: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(created))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def timetable_lines(manifest: Mapping[str, Any], lang: str = "zh") -> list[str]:
    """The exit timetable and the sites followed through, for the briefing (the manifest's
    ``timetable_*`` and ``sites_*`` summary figures): the current year's due, exited, at
    risk and unknown villages and the km still to harden this year; sites by stage and
    their occupancy. The timetable not assessed is said, never zeros; [] for a plan made
    before the timetable existed."""
    s = manifest.get("summary") or {}
    if "timetable_assessed" not in s:
        return []
    if not s.get("timetable_assessed"):
        return [t("brief_tt_none", lang)]
    out = [
        t(
            "brief_tt_year",
            lang,
            year=s.get("timetable_current_year", "—"),
            due=fmt_int(s.get("timetable_due")),
            exited=fmt_int(s.get("timetable_due_exited")),
            at_risk=fmt_int(s.get("timetable_at_risk")),
            unknown=fmt_int(s.get("timetable_due_unknown")),
        ),
        t(
            "brief_tt_work",
            lang,
            n=fmt_int(s.get("timetable_due_this_year_not_exited")),
            km=fmt_km(s.get("timetable_km_to_harden_this_year")),
        ),
    ]
    if s.get("sites_followed"):
        occ = s.get("sites_occupancy_people_frac")
        out.append(
            t(
                "brief_tt_sites",
                lang,
                selected=fmt_int(s.get("sites_selected")),
                building=fmt_int(s.get("sites_building")),
                built=fmt_int(s.get("sites_built")),
                occupied=fmt_int(s.get("sites_occupied")),
                occ=fmt_frac(occ) if occ is not None else "—",
            )
        )
    return out


def previous_manifest(plan: Plan) -> dict[str, Any] | None:
    """The previous plan of the plan's workspace, from the workspace's plan history
    (``history.gpkg`` beside ``workspace.toml``, :mod:`layers.history`): the latest version
    made before this plan, as ``created``, ``summary`` and ``version`` (its id). None when
    the workspace records no history or no earlier version."""
    ws = (plan.manifest.get("workspace") or {}).get("path")
    now = _when(plan.manifest.get("created"))
    if not ws or now is None or not history_path(ws).is_file():
        return None
    try:
        versions = open_history(ws).versions()
    except AnjuError as exc:  # an unreadable history leaves the briefing without changes
        log.warning("briefing: plan history of %s unreadable: %s", ws, exc)
        return None
    earlier = [(w, v) for v in versions if (w := _when(v.created)) is not None and w < now]
    if not earlier:
        return None
    _, v = max(earlier, key=lambda wv: (wv[0], wv[1].id or 0))
    return {"created": v.created, "summary": dict(v.summary), "version": v.id}


def previous_label(previous: Mapping[str, Any], lang: str = "zh") -> str:
    """How the previous plan is named: its version in the history (``第 3 版``), else its
    plan id (``方案编号 8da436e7``)."""
    if previous.get("version") is not None:
        return t("brief_version", lang, n=previous["version"])
    return f"{t('brief_plan_id', lang)} {plan_id(previous)}"


def changes_lines(
    manifest: Mapping[str, Any], previous: Mapping[str, Any] | None, lang: str = "zh"
) -> list[str]:
    """:func:`summary_changes` in words: ``具备退出条件：4 → 6（+2）``; one line saying so
    when there is no previous plan or nothing changed."""
    if not previous:
        return [t("brief_no_previous", lang)]
    rows = summary_changes(manifest, previous)
    if not rows:
        return [t("brief_no_changes", lang)]
    colon = "：" if lang != "en" else ": "
    out = []
    for r in rows:
        d = r["digits"]
        fmt = fmt_km if d else fmt_int
        sign = "+" if r["delta"] > 0 else "−"
        delta = f"{sign}{fmt(abs(r['delta']))}"
        out.append(
            f"{t(r['label'], lang)}{colon}{fmt(r['before'])} → {fmt(r['after'])}"
            + (f"（{delta}）" if lang != "en" else f" ({delta})")
        )
    return out


# --------------------------------------------------------------------------- map


def map_crs(plan: Plan) -> CRS:
    """The CRS the printed map is drawn in: the plan's metric CRS (else the DEM's, else
    the villages' UTM zone)."""
    crs = plan.manifest.get("crs_metric")
    if crs:
        return CRS.from_user_input(crs)
    dem_path = plan.rasters.get("dem")
    if dem_path is not None:
        with rasterio.open(dem_path) as src:
            if src.crs is not None and src.crs.is_projected:
                return CRS.from_user_input(src.crs)
    return CRS.from_user_input(plan.villages.estimate_utm_crs())


def scale_bar(crs: Any, x: float, y: float, span: float) -> tuple[float, float]:
    """A scale bar for a map of ``span`` map units across, drawn at ``(x, y)``.

    The ground length of a map unit is measured on the ellipsoid at ``(x, y)`` (so the
    CRS's unit and its scale factor are accounted for).

    Returns
    -------
    (km, length)
        A round number of km (1, 2 or 5 times a power of ten) near a fifth of the span,
        and its length in map units.
    """
    crs = CRS.from_user_input(crs)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    d = span / 20.0
    lon1, lat1 = to_ll.transform(x - d / 2, y)
    lon2, lat2 = to_ll.transform(x + d / 2, y)
    _, _, metres = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    m_per_unit = metres / d
    target_km = span * m_per_unit / 5000.0
    p = 10.0 ** math.floor(math.log10(target_km))
    km = max(m * p for m in (1, 2, 5, 10) if m * p <= target_km * 1.0000001)
    return km, km * 1000.0 / m_per_unit


def true_north_angle(crs: Any, x: float, y: float) -> float:
    """Degrees clockwise from the map's up direction to true north at ``(x, y)`` (the
    meridian convergence of a projected CRS; 0 for longitude/latitude)."""
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        return 0.0
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lon, lat = to_ll.transform(x, y)
    x2, y2 = to_map.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(x2 - x, y2 - y))


def _lines(geoms) -> list[np.ndarray]:
    out = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        parts = getattr(g, "geoms", [g])
        out += [np.asarray(p.coords)[:, :2] for p in parts if len(p.coords) > 1]
    return out


def _halo(width: float = 2.2) -> list:
    return [pe.withStroke(linewidth=width, foreground="white")]


def _draw_hillshade(ax, plan: Plan, crs: CRS, *, max_px: int) -> None:
    dem_path = plan.rasters.get("dem")
    if dem_path is None:
        return
    with rasterio.open(dem_path) as src:
        if src.crs is None or CRS.from_user_input(src.crs) != crs:
            return  # a plan's rasters are in its metric CRS; anything else is not drawn
        f = max(1, int(np.ceil(max(src.width, src.height) / max_px)))
        h, w = max(1, src.height // f), max(1, src.width // f)
        z = src.read(1, out_shape=(h, w), masked=True).astype(float).filled(np.nan)
        b = src.bounds
    hs = shade(z, cellsize_m=(b.right - b.left) / w)
    ax.imshow(
        np.ma.masked_invalid(hs),
        cmap="gray",
        vmin=-0.6,
        vmax=1.15,
        alpha=0.55,
        extent=(b.left, b.right, b.bottom, b.top),
        interpolation="bilinear",
        zorder=0,
    )


def _draw_roads(ax, plan: Plan, crs: CRS, lang: str) -> list:
    """Roads by surface (width by class) and the connections to build; legend handles."""
    roads = plan.layer("roads")
    handles = []
    if not roads.empty:
        r = roads.to_crs(crs)
        state = (
            r["hardened"].map(road_state)
            if "hardened" in r.columns
            else pd.Series("unknown", index=r.index)
        )
        if "hardened_inferred" in r.columns:
            inferred = bool_series(r["hardened_inferred"]).fillna(False).astype(bool)
            state = state.where(~(inferred & (state == "hardened")), "inferred")
        cls = r["road_class"] if "road_class" in r.columns else pd.Series("", index=r.index)
        for st, color, ls in ROAD_STYLES:
            sel = (state == st).to_numpy()
            if not sel.any():
                continue
            segs, widths = [], []
            for g, c in zip(r.geometry[sel], cls[sel], strict=True):
                parts = _lines([g])
                segs += parts
                widths += [ROAD_WIDTHS.get(str(c), 0.6) * (1.3 if st == "unhardened" else 1)]
            ax.add_collection(
                LineCollection(
                    segs,
                    colors=color,
                    linewidths=widths,
                    linestyles=ls,
                    zorder=2 if st == "hardened" else 2.5,
                    capstyle="round",
                )
            )
            handles.append(
                Line2D([], [], color=color, lw=1.4, ls=ls, label=t(f"brief_road_{st}", lang))
            )
    gaps = plan.layer("road_gaps")
    if not gaps.empty and "kind" in gaps.columns:
        conn = gaps[gaps["kind"] == "connection"]
        if not conn.empty:
            ax.add_collection(
                LineCollection(
                    _lines(conn.to_crs(crs).geometry),
                    colors=ROAD_COLORS["unhardened"],
                    linewidths=1.2,
                    linestyles=(0, (1, 1.2)),
                    zorder=2.6,
                )
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    color=ROAD_COLORS["unhardened"],
                    lw=1.2,
                    ls=(0, (1, 1.2)),
                    label=t("brief_road_connection", lang),
                )
            )
    return handles


def _draw_map(ax, plan: Plan, lang: str, *, max_px: int = 900, legend: bool = True) -> list:
    """The county map: hillshade, roads, boundaries and names, villages by exit readiness,
    scale bar and north arrow, in the plan's metric CRS."""
    crs = map_crs(plan)
    bd = plan.layer("boundary")
    tw = plan.layer("townships")
    v = plan.villages.to_crs(crs)
    frame = bd.to_crs(crs) if not bd.empty else (tw.to_crs(crs) if not tw.empty else v)
    x0, y0, x1, y1 = frame.total_bounds
    pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    _draw_hillshade(ax, plan, crs, max_px=max_px)
    road_handles = _draw_roads(ax, plan, crs, lang)
    line_handles = []
    if not tw.empty:
        twm = tw.to_crs(crs)
        twm.boundary.plot(ax=ax, color="#555555", linewidth=0.7, linestyle=(0, (4, 2)), zorder=3)
        line_handles.append(
            Line2D([], [], color="#555555", lw=0.7, ls=(0, (4, 2)), label=t("townships", lang))
        )
        if "name" in twm.columns:
            for name, g in zip(twm["name"], twm.geometry, strict=True):
                if g is None or g.is_empty or not str(name or "").strip():
                    continue
                part = max(getattr(g, "geoms", [g]), key=lambda p: p.area)
                pt = polylabel(part, tolerance=max(part.length / 500, 1.0))
                ax.text(
                    pt.x,
                    pt.y,
                    str(name),
                    fontsize=8,
                    weight="bold",
                    color="#222222",
                    ha="center",
                    va="center",
                    zorder=6,
                    path_effects=_halo(2.5),
                )
    if not bd.empty:
        bd.to_crs(crs).boundary.plot(ax=ax, color="#111111", linewidth=1.4, zorder=3)
        line_handles.append(Line2D([], [], color="#111111", lw=1.4, label=t("boundary", lang)))
    codes = exit_codes(plan.villages).to_numpy()
    pts = v.geometry.representative_point()
    labels = code_labels("exit", lang)
    by_code = {}
    for code in ("x", "u", "n", "i", "m"):  # the assessed on top, ready last
        sel = codes == code
        if not sel.any():
            continue
        skip = code == "x"
        by_code[code] = ax.scatter(
            pts.x[sel],
            pts.y[sel],
            s=9 if skip else 24,
            c=STATUS_COLORS[code],
            edgecolors="#8A8A8A" if skip else "white",
            linewidths=0.5,
            label=f"{labels[code]} ({int(sel.sum())})",
            zorder=4,
        )
    village_handles = [by_code[c] for c in EXIT_CODES if c in by_code]  # legend order
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for s in ax.spines.values():
        s.set_color("#888888")
        s.set_linewidth(0.6)
    _scale_bar(ax, crs, x0, y0, x1, y1)
    _north_arrow(ax, crs, x0, y0, x1, y1, lang)
    handles = _legend_grid(village_handles, road_handles + line_handles, rows=_LEGEND_ROWS)
    if legend:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=len(handles) // _LEGEND_ROWS,
            fontsize=6.5,
            frameon=False,
            handlelength=2.2,
            columnspacing=1.2,
        )
    return handles


_LEGEND_ROWS = 4


def _legend_grid(first: list, second: list, *, rows: int = 4) -> list:
    """Legend handles padded so that the villages fill their own columns (a legend fills
    column by column), then the roads and boundaries theirs; ``rows`` rows."""

    def pad(hs: list) -> list:
        blank = Line2D([], [], alpha=0, label=" ")
        return hs + [blank] * (-len(hs) % rows)

    return pad(first) + pad(second)


def _scale_bar(ax, crs: CRS, x0: float, y0: float, x1: float, y1: float) -> None:
    w, h = x1 - x0, y1 - y0
    bx, by = x0 + 0.04 * w, y0 + 0.04 * h
    km, length = scale_bar(crs, bx + 0.1 * w, by, w)
    bar_h = 0.012 * h
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (bx + i * length / 2, by),
                length / 2,
                bar_h,
                facecolor="#222222" if i == 0 else "white",
                edgecolor="#222222",
                linewidth=0.7,
                zorder=7,
            )
        )
    num = f"{km:g}"
    for xx, label in ((bx, "0"), (bx + length / 2, f"{km / 2:g}"), (bx + length, f"{num} km")):
        ax.text(
            xx,
            by + bar_h * 1.6,
            label,
            fontsize=6.5,
            ha="center",
            va="bottom",
            zorder=7,
            path_effects=_halo(2),
        )


def _north_arrow(ax, crs: CRS, x0: float, y0: float, x1: float, y1: float, lang: str) -> None:
    w, h = x1 - x0, y1 - y0
    cx, cy = x1 - 0.06 * w, y1 - 0.13 * h
    a = math.radians(true_north_angle(crs, cx, cy))
    length = 0.07 * h
    dx, dy = length * math.sin(a), length * math.cos(a)
    ax.annotate(
        "",
        xy=(cx + dx / 2, cy + dy / 2),
        xytext=(cx - dx / 2, cy - dy / 2),
        arrowprops={
            "arrowstyle": "-|>,head_width=0.35,head_length=0.8",
            "color": "#222222",
            "lw": 1.4,
        },
        zorder=7,
    )
    ax.text(
        cx + 0.68 * dx,
        cy + 0.68 * dy,
        t("brief_north", lang),
        fontsize=9,
        weight="bold",
        ha="center",
        va="bottom",
        zorder=7,
        path_effects=_halo(2),
    )


def render_map_png(plan: Plan, lang: str = "zh", *, dpi: int = 150) -> bytes:
    """PNG of the readiness map (hillshade, roads, boundaries and names, villages by
    readiness, scale bar and north arrow).

    Raises
    ------
    BriefingFontError
        Without a CJK font, or when a character has no glyph.
    """
    lg = briefing_lang(lang)
    buf = io.BytesIO()
    with _printing():
        fig, ax = plt.subplots(figsize=(8, 8.6))
        try:
            _draw_map(ax, plan, lg)
            ax.set_title(t("brief_map_title", lg), fontsize=11)
            fig.tight_layout()
            fig.savefig(buf, format="png", dpi=dpi)
        finally:
            plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------- pages


def render_briefing_pdf(
    plan: Plan,
    lang: str = "zh",
    *,
    today: date | None = None,
    previous: Mapping[str, Any] | None = None,
) -> bytes:
    """The briefing as an A4 PDF: page 1 to print, page 2 with the details.

    Parameters
    ----------
    plan : Plan
    lang : str
        ``"zh"`` or ``"en"`` (the place names stay Chinese).
    today : date, optional
        The print date (today).
    previous : mapping, optional
        The previous plan's manifest: its headline figures are compared with this plan's
        (:func:`summary_changes`).

    Returns
    -------
    bytes
        The PDF (begins with ``%PDF``).

    Raises
    ------
    BriefingFontError
        Without a CJK font (the message names ``fonts-noto-cjk``), or when a character
        has no glyph in the installed fonts.
    """
    lg = briefing_lang(lang)
    today = today or date.today()
    buf = io.BytesIO()
    with _printing():
        figs = briefing_pages(plan, lg, today=today, previous=previous)
        try:
            meta = {
                "Title": f"{t('briefing_title', lg)} · {_county_name(plan)}",
                "Creator": "anju",
                "CreationDate": datetime(today.year, today.month, today.day, tzinfo=CST),
            }
            with PdfPages(buf, metadata=meta) as pdf:
                for fig in figs:
                    pdf.savefig(fig)
        finally:
            for fig in figs:
                plt.close(fig)
    return buf.getvalue()


def _county_name(plan: Plan) -> str:
    bd = plan.layer("boundary")
    ws = (plan.manifest.get("workspace") or {}).get("name")
    if ws:
        return str(ws)
    if not bd.empty and "name" in bd.columns and str(bd["name"].iloc[0] or "").strip():
        return str(bd["name"].iloc[0])
    return ""


_FIG_W_PT = A4_PORTRAIT[0] * 72
_FIG_H_PT = A4_PORTRAIT[1] * 72
_WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")


def _units(text: str) -> int:
    """Width of ``text`` in half-em units (a CJK character is two, anything else one)."""
    return sum(2 if _WIDE.match(ch) else 1 for ch in text)


def _wrap(text: str, width: int, lang: str) -> list[str]:
    """Wrap ``text`` to ``width`` half-em units: at spaces for Latin text, between CJK
    characters otherwise (never inside a number or word, never before closing punctuation)."""
    if not _WIDE.search(text):
        return textwrap.wrap(text, width, break_long_words=False) or [""]
    tokens = re.findall(r"[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+|.", text)
    out, line = [], ""
    for tok in tokens:
        if line and _units(line + tok) > width and tok[0] not in "，。、；：）」』”,.;:)":
            out.append(line.rstrip())
            line = tok.lstrip()
            continue
        line += tok
    return [*out, line] if line else out or [""]


def _wrap_items(items: Sequence[str], sep: str, width: int, lang: str) -> list[str]:
    """Join ``items`` with ``sep`` into lines of at most ``width`` units, breaking between
    items (an item longer than a line is wrapped on its own)."""
    out: list[str] = []
    line = ""
    for item in items:
        cand = f"{line}{sep}{item}" if line else item
        if _units(cand) <= width:
            line = cand
            continue
        if line:
            out.append(line)
        parts = _wrap(item, width, lang)
        out += parts[:-1]
        line = parts[-1]
    return [*out, line] if line else out


class _Column:
    """Text blocks laid top down on a figure, ``width`` (a figure fraction) wide."""

    def __init__(
        self, fig, x: float, y: float, width: float, lang: str, *, draw: bool = True
    ) -> None:
        self.fig, self.x, self.y, self.width, self.lang = fig, x, y, width, lang
        self.draw = draw  # False: only measure

    def text(self, x: float, y: float, s: str, **kw: Any) -> None:
        if self.draw:
            self.fig.text(x, y, s, **kw)

    def units(self, size: float, indent: float = 0.0) -> int:
        """Half-em units that fit on a line at ``size`` points."""
        return max(8, int((self.width - indent) * _FIG_W_PT / (0.56 * size)))

    @staticmethod
    def step(size: float) -> float:
        return size * 1.45 / _FIG_H_PT

    def head(self, text: str, *, size: float = 9.5) -> None:
        self.y -= 0.2 * self.step(size)
        self.text(self.x, self.y, text, fontsize=size, weight="bold", color="#1f3a5f", va="top")
        self.y -= 1.35 * self.step(size)

    def lines(
        self,
        parts: Sequence[str],
        *,
        size: float = 7.5,
        color: str = "#222222",
        indent: float = 0.0,
        bold: bool = False,
    ) -> None:
        for part in parts:
            self.text(
                self.x + indent,
                self.y,
                part,
                fontsize=size,
                color=color,
                va="top",
                weight="bold" if bold else "normal",
            )
            self.y -= self.step(size)

    def line(self, text: str, *, size: float = 7.5, indent: float = 0.0, **kw: Any) -> None:
        self.lines(_wrap(text, self.units(size, indent), self.lang), size=size, indent=indent, **kw)

    def room(self, bottom: float, size: float) -> int:
        """Lines of ``size`` points that still fit above ``bottom``."""
        return max(0, int((self.y - bottom) / self.step(size)))

    def gap(self, h: float = 0.006) -> None:
        self.y -= h


def briefing_pages(
    plan: Plan,
    lg: str,
    *,
    today: date | None = None,
    previous: Mapping[str, Any] | None = None,
) -> list:
    """The two A4 pages of the briefing as matplotlib figures (call inside ``_printing()``)."""
    today = today or date.today()
    heads = headline_numbers(plan.summary, plan.villages, plan.layer("road_gaps"))
    ranking = briefing_ranking(plan.villages)
    blockers = township_blockers(plan.villages)
    pages = [
        _page_one(plan, lg, today, heads, ranking, blockers, previous),
        *_detail_pages(plan, lg, today, ranking, blockers, previous),
    ]
    for n, fig in enumerate(pages, start=1):
        _footer(fig, lg, n, len(pages))
    return pages


def _page_header(fig, plan: Plan, lg: str, today: date, title: str) -> None:
    fig.text(0.04, 0.972, title, fontsize=16, weight="bold", color="#111111", va="top")
    sub = " · ".join(
        [
            f"{t('brief_printed', lg)} {today.isoformat()}",
            f"{t('policy', lg)}: {profile_line(plan.profile_title(lg), plan.profile, lg)}",
            f"{t('brief_plan_id', lg)} {plan_id(plan.manifest)}",
        ]
    )
    fig.text(0.04, 0.944, sub, fontsize=8, color="#444444", va="top")
    fig.add_artist(Line2D([0.04, 0.96], [0.933, 0.933], color="#1f3a5f", lw=1.2))


def _footer(fig, lg: str, page: int, total: int) -> None:
    fig.text(
        0.96,
        0.012,
        t("brief_page", lg, n=page, total=total),
        fontsize=6.5,
        color="#666666",
        ha="right",
    )


def _colon(lg: str) -> str:
    return ": " if lg == "en" else "："


#: Page 1, in figure fractions: the map (left, bottom, width, height), the right column
#: (left, width), the ranking table (left, bottom, width, height) and the provenance top.
_P1_MAP = (0.04, 0.49, 0.56, 0.355)
_P1_COLUMN = (0.635,)
_P1_TABLE = (0.04, 0.105, 0.92, 0.285)
_P1_PROVENANCE = 0.082


def _headline_cards(fig, heads: Mapping[str, Any], lg: str) -> None:
    assessed = _num(heads.get("villages_assessed")) or 0
    y = 0.922
    for i, (key, label) in enumerate(PRINT_HEADLINES):
        x = 0.04 + i * 0.155
        val = heads.get(key)
        fig.text(x, y, fmt_num(val, lg), fontsize=17, weight="bold", color="#1f3a5f", va="top")
        fig.text(x, y - 0.029, t(label, lg), fontsize=7.5, color="#222222", va="top")
        if key == "villages_assessed":
            sub = t(
                "brief_of_villages",
                lg,
                total=fmt_int(heads.get("villages")),
                skip=fmt_int(heads.get("not_assessed")),
            )
        else:
            n = _num(val)
            sub = (
                t("brief_share", lg, frac=fmt_frac(n / assessed))
                if n is not None and assessed
                else ""
            )
        fig.text(x, y - 0.0425, sub, fontsize=6.5, color="#666666", va="top")


def _page_one(plan, lg, today, heads, ranking, blockers, previous):
    fig = plt.figure(figsize=A4_PORTRAIT)
    _page_header(fig, plan, lg, today, f"{t('briefing_title', lg)} · {_county_name(plan)}")
    _headline_cards(fig, heads, lg)
    mx, my, mw, mh = _P1_MAP
    fig.text(
        mx, 0.862, t("brief_map_title", lg), fontsize=9.5, weight="bold", color="#1f3a5f", va="top"
    )
    ax = fig.add_axes(_P1_MAP)
    ax.set_anchor("NW")
    handles = _draw_map(ax, plan, lg, legend=False)
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(mx, my - 0.004),
        ncol=len(handles) // _LEGEND_ROWS,
        fontsize=6.5,
        frameon=False,
        borderaxespad=0,
        handlelength=2.2,
        columnspacing=1.5,
    )
    # right column: the townships that lag, closing the gaps, changes; it starts where
    # the map ends (a tall county leaves more room beside it) and stops above the legend,
    # showing fewer lagging townships when the changes need the room
    ax.apply_aspect()
    cx = min(_P1_COLUMN[0], ax.get_position().x1 + 0.035)
    args = (plan, lg, heads, ranking, blockers, previous)
    lagging = 4
    while lagging > 1:
        dry = _Column(fig, cx, 0.862, 0.96 - cx, lg, draw=False)
        if _right_column(dry, *args, lagging=lagging, bottom=None) >= my:
            break
        lagging -= 1
    _right_column(_Column(fig, cx, 0.862, 0.96 - cx, lg), *args, lagging=lagging, bottom=my)
    _ranking_table(fig, _P1_TABLE, ranking, blockers, plan.indicators, lg)
    _provenance_block(fig, plan, lg, y=_P1_PROVENANCE)
    return fig


def _right_column(
    col: _Column,
    plan: Plan,
    lg: str,
    heads: Mapping[str, Any],
    ranking: pd.DataFrame,
    blockers: Mapping[str, Counter[str]],
    previous: Mapping[str, Any] | None,
    *,
    lagging: int,
    bottom: float | None,
) -> float:
    """The townships that lag, closing the gaps and the changes since the previous plan;
    the changes stop above ``bottom`` (the rest are on page 2). Returns the column's end."""
    col.head(t("brief_lagging", lg))
    for r in lagging_townships(ranking, n=lagging).itertuples():
        col.line(str(r.township), bold=True, size=8)
        line = t(
            "brief_lagging_line",
            lg,
            ready=fmt_int(r.ready),
            assessed=fmt_int(r.assessed),
            frac=fmt_frac(r.ready_frac),
            blocked=fmt_int(r.blocked),
            people=fmt_int(r.people_waiting),
        )
        col.line(line, indent=0.008, color="#333333", size=7)
        what = blockers_text(blockers.get(str(r.township)), plan.indicators, lg)
        col.line(
            f"{t('brief_blockers', lg)}{_colon(lg)}{what}", indent=0.008, color="#333333", size=7
        )
        col.gap(0.003)
    col.gap()
    col.head(t("brief_costs", lg))
    _cost_block(col, heads, plan_unit_costs(plan.manifest), lg)
    col.gap()
    tt = timetable_lines(plan.manifest, lg)
    if tt:
        col.head(t("brief_timetable", lg))
        col.lines(
            [part for line in tt for part in _wrap(line, col.units(7), lg)],
            size=7,
            color="#333333",
        )
        col.gap()
    col.head(t("brief_changes", lg))
    if previous:
        since = t(
            "brief_changes_since",
            lg,
            id=previous_label(previous, lg),
            date=created_text(previous, lg),
        )
        col.line(since, size=6.5, color="#777777")
    changes = [
        part
        for line in changes_lines(plan.manifest, previous, lg)
        for part in _wrap(line, col.units(7), lg)
    ]
    if bottom is None:  # measuring: the first six lines must fit
        changes = changes[:6]
    elif len(changes) > col.room(bottom, 7):
        changes = changes[: max(0, col.room(bottom, 7) - 1)] + [t("brief_more_changes", lg)]
    col.lines(changes, size=7, color="#333333" if previous else "#777777")
    return col.y


def _cost_block(
    col: _Column, heads: Mapping[str, Any], rates: Mapping[str, float], lg: str
) -> None:
    """Closing the gaps: what to do (left) and its cost at the plan's unit rate (right)."""
    rows = gap_costs(heads, rates)
    size = 7.5
    right = col.x + col.width
    for row in rows:
        amount = fmt_km(row["amount"]) if row["unit"] == "km" else fmt_int(row["amount"])
        if row["key"] == "survey":
            cost = t("brief_cost_none", lg)
        elif row["cost"] is None:
            cost = t("brief_cost_norate", lg)
        else:
            cost = f"≈ {_cny(row['cost'], lg)}"
        col.text(
            col.x,
            col.y,
            t(f"brief_cost_{row['key']}", lg, amount=amount),
            fontsize=size,
            va="top",
            color="#222222",
        )
        col.text(
            right,
            col.y,
            cost,
            fontsize=size,
            va="top",
            ha="right",
            weight="bold",
            color="#222222" if row["cost"] is not None else "#777777",
        )
        col.y -= col.step(size)
    others = t(
        "brief_cost_other",
        lg,
        water=fmt_int(heads.get("no_safe_water")),
        clinic=fmt_int(heads.get("no_standard_clinic")),
    )
    col.line(others, size=7, color="#333333")
    used = [
        t(f"brief_rate_{row['key']}", lg, rate=_cny(row["rate"], lg))
        for row in rows
        if row["rate"] is not None
    ]
    if used:
        sep = "；" if lg != "en" else "; "
        used[0] = t("brief_cost_rates", lg, rates=used[0])
        col.lines(_wrap_items(used, sep, col.units(6.5), lg), size=6.5, color="#777777")


RANK_COLUMNS = (
    # column, header key, x of the text (fraction of the table), alignment
    ("rank", "rank", 0.018, "center"),
    ("township", "township", 0.04, "left"),
    ("ready_of", "brief_th_ready_of", 0.175, "center"),
    ("ready_frac", "brief_th_ready_frac", 0.235, "center"),
    ("blocked_one", "brief_th_blocked_one", 0.295, "center"),
    ("blocked_several", "brief_th_blocked_several", 0.355, "center"),
    ("unknown", "col_unknown", 0.415, "center"),
    ("unconfirmed", "col_unconfirmed", 0.49, "center"),
    ("people_waiting", "brief_people_waiting", 0.56, "center"),
    ("blockers", "brief_blockers", 0.605, "left"),
)
_BAR_X, _BAR_W = 0.855, 0.14
_MAX_ROWS_PAGE_ONE = 20


def _rank_cell(r, col: str, blockers, indicators, lg: str) -> str:
    if col == "rank":
        return "—" if pd.isna(r.rank) else str(int(r.rank))
    if col == "township":
        return str(r.township)
    if col == "ready_of":
        return f"{fmt_int(r.ready)}/{fmt_int(r.assessed)}"
    if col == "ready_frac":
        return fmt_frac(r.ready_frac)
    if col == "blockers":
        return blockers_text(blockers.get(str(r.township)), indicators, lg, top=3)
    return fmt_int(getattr(r, col))


def _ranking_table(
    fig,
    rect,
    ranking: pd.DataFrame,
    blockers,
    indicators,
    lg: str,
    *,
    max_rows: int = _MAX_ROWS_PAGE_ONE,
) -> None:
    """The township ranking as a table with a bar of each township's assessed villages
    (ready, unconfirmed, blocked, unknown: the map's colours); more than ``max_rows``
    townships are shortened to the top and the bottom of the ranking."""
    x, y, w, h = rect
    rows: list[Any] = list(ranking.itertuples())
    more = 0
    if len(rows) > max_rows:
        head_n = max_rows // 2
        tail_n = max_rows - 1 - head_n
        more = len(rows) - head_n - tail_n
        rows = rows[:head_n] + [None] + rows[len(rows) - tail_n :]
    fig.text(
        x, y + h + 0.022, t("brief_ranking_title", lg), fontsize=9.5, weight="bold", color="#1f3a5f"
    )
    fig.text(x, y + h + 0.008, t("brief_rank_key", lg), fontsize=6.5, color="#666666")
    ax = fig.add_axes((x, y, w, h))
    n = len(rows)
    ax.set_xlim(0, 1)
    ax.set_ylim(max(n, 12) + 0.1, -1.7)
    ax.axis("off")
    for _col, key, cx, ha in RANK_COLUMNS:
        ax.text(
            cx,
            -0.75,
            "\n".join(
                _wrap(t(key, lg), (9 if lg == "en" else 10) if ha == "center" else 24, lg)[:3]
            ),
            fontsize=6.5,
            weight="bold",
            ha=ha,
            va="center",
            color="#333333",
        )
    ax.text(
        _BAR_X,
        -0.75,
        t("brief_bar_head", lg),
        fontsize=6.5,
        weight="bold",
        ha="left",
        va="center",
        color="#333333",
    )
    ax.add_line(Line2D([0, 1], [-0.05, -0.05], color="#555555", lw=0.6))
    top = max(1, int(ranking["assessed"].max() or 1)) if len(ranking) else 1
    for i, r in enumerate(rows):
        yy = i + 0.5
        if i % 2 == 1:
            ax.add_patch(Rectangle((0, i), 1, 1, facecolor="#EEF1F5", edgecolor="none", zorder=0))
        if r is None:
            ax.text(
                0.04,
                yy,
                t("brief_more_townships", lg, n=more),
                fontsize=6.5,
                color="#666666",
                va="center",
            )
            continue
        for col, _key, cx, ha in RANK_COLUMNS:
            ax.text(
                cx,
                yy,
                _rank_cell(r, col, blockers, indicators, lg),
                fontsize=6.8,
                ha=ha,
                va="center",
                color="#111111",
                weight="bold" if col in ("township", "ready_frac") else "normal",
            )
        left = _BAR_X
        for c, code in (("ready", "m"), ("unconfirmed", "i"), ("blocked", "n"), ("unknown", "u")):
            wv = float(getattr(r, c)) / top * _BAR_W
            if wv > 0:
                ax.add_patch(
                    Rectangle(
                        (left, i + 0.22),
                        wv,
                        0.56,
                        facecolor=STATUS_COLORS[code],
                        edgecolor="white",
                        linewidth=0.3,
                        zorder=1,
                    )
                )
            left += wv
    ax.add_line(Line2D([0, 1], [n, n], color="#555555", lw=0.6))


def _provenance_block(fig, plan: Plan, lg: str, *, y: float) -> None:
    """Plan id, creation time, versions and the input files by name with their sha256."""
    m = plan.manifest
    fig.add_artist(Line2D([0.04, 0.96], [y + 0.006, y + 0.006], color="#BBBBBB", lw=0.5))
    col = _Column(fig, 0.04, y, 0.92, lg)
    col.line(t("provenance", lg), size=7, bold=True)
    first = [
        f"{t('brief_plan_id', lg)} {plan_id(m)}",
        f"{t('created', lg)} {created_text(m, lg)}",
        f"anju {m.get('anju_version', '?')}",
        f"CRS {m.get('crs_metric', '?')}",
        *([dem[0]] if (dem := dem_line(m, lg)) else []),
    ]
    col.lines(_wrap_items(first, " · ", col.units(6.3), lg), size=6.3, color="#444444")
    files = [
        f"{name}（{kinds}）{sha}" if lg != "en" else f"{name} ({kinds}) {sha}"
        for name, sha, kinds in input_files(m, lg)
    ]
    label = f"{t('brief_inputs', lg)}{_colon(lg)}"
    col.lines(
        _wrap_items(
            [label + files[0], *files[1:]] if files else [label + "—"], " · ", col.units(6.3), lg
        ),
        size=6.3,
        color="#444444",
    )


_ROW = 0.0125  # one table row on the detail pages (figure fraction)
_DETAIL_TOP, _DETAIL_BOTTOM = 0.915, 0.035


def _detail_pages(plan, lg, today, ranking, blockers, previous) -> list:
    """The details, page after page: the full ranking (when page 1 shortened it), the
    blockers per township and indicator, the road gaps to harden first, the warnings, the
    unverified thresholds, the changes and the provenance. A block that does not fit on
    the page starts the next one."""
    blocks: list[tuple[float, Any]] = []
    if len(ranking) > _MAX_ROWS_PAGE_ONE:
        h = _ROW * (len(ranking) + 2)

        def full_ranking(fig, y):
            rect = (0.04, y - 0.035 - h, 0.92, h)
            _ranking_table(fig, rect, ranking, blockers, plan.indicators, lg, max_rows=len(ranking))

        blocks.append((h + 0.055, full_ranking))
    nrows = _blocker_matrix(None, 0, ranking, blockers, plan.indicators, lg)
    if nrows:
        blocks.append(
            (
                0.042 + _ROW * (nrows + 2.5),
                lambda fig, y: _blocker_matrix(fig, y, ranking, blockers, plan.indicators, lg),
            )
        )
    ngaps = _top_gaps(None, 0, plan, lg)
    if ngaps:
        blocks.append((0.032 + _ROW * (ngaps + 1.5), lambda fig, y: _top_gaps(fig, y, plan, lg)))
    sections = list(notes_lines(plan, lg))
    if previous:
        since = t(
            "brief_changes_since",
            lg,
            id=previous_label(previous, lg),
            date=created_text(previous, lg),
        )
        head = t("brief_changes", lg)
        sections.append(
            (
                f"{head}（{since}）" if lg != "en" else f"{head} ({since})",
                changes_lines(plan.manifest, previous, lg),
            )
        )
    sections.append((t("provenance", lg), provenance_lines(plan.manifest, lg)))
    for heading, items in sections:

        def section(fig, y, heading=heading, items=items, draw=True):
            col = _Column(fig, 0.04, y, 0.92, lg, draw=draw)
            col.head(heading, size=8.5)
            for item in items:
                col.line(f"· {item}", size=7, color="#333333")
            col.gap(0.012)
            return y - col.y

        blocks.append((section(None, 1.0, draw=False), section))
    pages: list = []
    y = 0.0
    for height, draw in blocks:
        if not pages or (y - height < _DETAIL_BOTTOM and y < _DETAIL_TOP):
            fig = plt.figure(figsize=A4_PORTRAIT)
            title = f"{t('brief_details_title', lg)} · {_county_name(plan)}"
            _page_header(fig, plan, lg, today, title)
            pages.append(fig)
            y = _DETAIL_TOP
        draw(pages[-1], y)
        y -= height
    return pages


def _blocker_matrix(fig, y: float, ranking, blockers, indicators, lg: str) -> int:
    """Townships × indicators: blocked villages that fail each indicator, drawn from ``y``
    down (``fig`` None: only count). Returns the number of township rows."""
    ids = [str(i["id"]) for i in indicators if any(str(i["id"]) in c for c in blockers.values())]
    rows = [r for r in ranking.itertuples() if r.blocked > 0] if ids else []
    if fig is None or not rows:
        return len(rows)
    by_id = {str(i["id"]): i for i in indicators}
    fig.text(
        0.04,
        y,
        t("brief_blocker_matrix", lg),
        fontsize=9.5,
        weight="bold",
        color="#1f3a5f",
        va="top",
    )
    fig.text(
        0.04, y - 0.017, t("brief_blocker_matrix_note", lg), fontsize=6.5, color="#666666", va="top"
    )
    h = _ROW * (len(rows) + 2.5)
    ax = fig.add_axes((0.04, y - 0.03 - h, 0.92, h))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(rows) + 0.2, -2.3)
    x0, cw = 0.16, min(0.075, 0.8 / (len(ids) + 1))
    ax.text(0.0, -1.1, t("township", lg), fontsize=6.5, weight="bold", va="center")
    ax.text(
        x0 - 0.02,
        -1.1,
        t("brief_blocked_n", lg),
        fontsize=6.5,
        weight="bold",
        va="center",
        ha="center",
    )
    for j, k in enumerate(ids):
        ax.text(
            x0 + (j + 0.5) * cw + 0.02,
            -1.1,
            "\n".join(_wrap(indicator_short_name(by_id[k], lg), 10, lg)[:2]),
            fontsize=6.3,
            weight="bold",
            ha="center",
            va="center",
        )
    top = max((c for cnt in blockers.values() for c in cnt.values()), default=1)
    for i, r in enumerate(rows):
        yy = i + 0.5
        ax.text(0.0, yy, str(r.township), fontsize=6.8, va="center")
        ax.text(x0 - 0.02, yy, fmt_int(r.blocked), fontsize=6.8, va="center", ha="center")
        cnt = blockers.get(str(r.township), Counter())
        for j, k in enumerate(ids):
            nval = cnt.get(k, 0)
            cx = x0 + j * cw + 0.02
            if nval:
                shade = 0.15 + 0.65 * nval / top
                ax.add_patch(
                    Rectangle(
                        (cx + 0.003, i + 0.08),
                        cw - 0.006,
                        0.84,
                        facecolor=STATUS_COLORS["n"],
                        alpha=shade,
                        edgecolor="none",
                    )
                )
            ax.text(
                cx + cw / 2,
                yy,
                str(nval) if nval else "·",
                fontsize=6.8,
                ha="center",
                va="center",
                color="#111111" if nval else "#AAAAAA",
            )
    return len(rows)


def _top_gaps(fig, y: float, plan: Plan, lg: str, *, n: int = 10) -> int:
    """The ``n`` road gaps with the most people per km, drawn from ``y`` down (``fig``
    None: only count). Returns the number of rows."""
    gaps = plan.layer("road_gaps")
    if gaps.empty or "length_km" not in gaps.columns:
        return 0
    g = ranked_road_gaps(gaps).head(n)
    if fig is None:
        return len(g)
    fig.text(
        0.04, y, t("brief_top_gaps", lg), fontsize=9.5, weight="bold", color="#1f3a5f", va="top"
    )
    cols = (
        ("rank", "rank", 0.0),
        ("township", "township", 0.06),
        ("kind", "gap_kind", 0.2),
        ("length_km", "length_km", 0.3),
        ("unknown_surface_km", "unknown_surface_km", 0.42),
        ("people_served", "people_served", 0.56),
        ("people_per_km", "people_per_km", 0.68),
    )
    h = _ROW * (len(g) + 1.5)
    ax = fig.add_axes((0.04, y - 0.02 - h, 0.92, h))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(g) + 0.2, -1.3)
    for _c, key, cx in cols:
        ax.text(cx, -0.6, t(key, lg), fontsize=6.5, weight="bold", va="center")
    for i, r in enumerate(g.itertuples()):
        vals = {
            "rank": str(r.rank),
            "township": str(getattr(r, "township", "") or "—"),
            "kind": t(str(r.kind), lg),
            "length_km": fmt_km(r.length_km),
            "unknown_surface_km": fmt_km(r.unknown_surface_km),
            "people_served": fmt_int(getattr(r, "people_served", None)),
            "people_per_km": fmt_int(getattr(r, "people_per_km", None)),
        }
        for c, _key, cx in cols:
            ax.text(cx, i + 0.5, vals[c], fontsize=6.8, va="center")
    return len(g)
