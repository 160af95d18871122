"""Printable leader's briefing rendered server-side with matplotlib (PDF and map PNG).

The map is a hillshade of ``rasters/dem.tif`` with villages coloured by exit readiness
and the county and township boundaries.  Chinese text needs a CJK font (Debian:
``fonts-noto-cjk``); without one the briefing falls back to English so no glyph is lost.
"""

from __future__ import annotations

import io
import textwrap
from datetime import date
from functools import lru_cache
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import rasterio  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from dashboard.i18n import fmt_frac, fmt_num, t  # noqa: E402
from dashboard.plan import Plan  # noqa: E402
from dashboard.tiles import hillshade  # noqa: E402
from dashboard.viewmodels import (  # noqa: E402
    EXIT_CODES,
    STATUS_COLORS,
    code_labels,
    dem_line,
    exit_codes,
    headline_numbers,
    profile_line,
    township_ranking,
    unverified_indicators,
)

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
#: Headline cards in two groups: exit readiness (by blocker class: ready + unconfirmed +
#: blocked + unknown = assessed; assessed + not assessed = villages) and the gaps.
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
#: Bars of the township ranking: column, status code (colour), label key.
RANKING_BARS = (
    ("ready", "m", "ready"),
    ("unconfirmed", "i", "col_unconfirmed"),
    ("blocked", "n", "col_not_met"),
    ("unknown", "u", "col_unknown"),
    ("not_assessed", "x", "col_not_assessed"),
)


def headline_digits(key: str) -> int:
    """Decimals of a headline figure (km to one decimal, counts whole)."""
    return 1 if key.startswith("km_") else 0


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of an installed CJK font family, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in names:
            return fam
    return None


def briefing_lang(lang: str) -> str:
    """The language the briefing can be printed in (English when no CJK font)."""
    return lang if lang == "en" or cjk_font() else "en"


def _rc(lang: str) -> dict[str, Any]:
    fam = cjk_font()
    fams = [fam, "DejaVu Sans"] if fam else ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": fams, "axes.unicode_minus": False}


def _draw_map(ax, plan: Plan, lang: str, *, max_px: int = 900) -> None:
    dem_path = plan.rasters.get("dem")
    crs = None
    if dem_path is not None:
        with rasterio.open(dem_path) as src:
            f = max(1, int(np.ceil(max(src.width, src.height) / max_px)))
            h, w = max(1, src.height // f), max(1, src.width // f)
            z = src.read(1, out_shape=(h, w), masked=True).astype(float).filled(np.nan)
            b = src.bounds
            crs = src.crs
            cell = (b.right - b.left) / w
        hs = hillshade(z, cellsize_m=cell if crs and crs.is_projected else cell * 111_000)
        ax.imshow(
            np.ma.masked_invalid(hs),
            cmap="gray",
            vmin=-0.3,
            vmax=1.1,
            extent=(b.left, b.right, b.bottom, b.top),
            interpolation="bilinear",
        )
    target = crs.to_string() if crs is not None else None

    def proj(gdf):
        return gdf.to_crs(target) if target and not gdf.empty else gdf

    tw = proj(plan.layer("townships"))
    if not tw.empty:
        tw.boundary.plot(ax=ax, color="#555555", linewidth=0.6, linestyle="--")
    bd = proj(plan.layer("boundary"))
    if not bd.empty:
        bd.boundary.plot(ax=ax, color="#111111", linewidth=1.4)
    v = proj(plan.villages)
    codes = exit_codes(plan.villages)
    pts = v.geometry.representative_point()
    labels = code_labels("exit", lang)
    for code in EXIT_CODES:
        sel = (codes == code).values
        if code == "x" and not sel.any():
            continue
        skip = code == "x"  # not assessed: small, pale, dashed ring (as on the web map)
        ax.scatter(
            pts.x[sel],
            pts.y[sel],
            s=14 if skip else 26,
            c=STATUS_COLORS[code],
            edgecolors="#6E6E6E" if skip else "white",
            linewidths=0.8 if skip else 0.5,
            linestyle="--" if skip else "-",
            label=f"{labels[code]} ({int(sel.sum())})",
            zorder=3,
        )
    ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_aspect("equal")
    ax.set_title(t("exit_ready", lang), fontsize=10)


def render_map_png(plan: Plan, lang: str = "zh", *, dpi: int = 150) -> bytes:
    """PNG of the readiness map (hillshade, villages by readiness, boundaries)."""
    lg = briefing_lang(lang)
    with plt.rc_context(_rc(lg)):
        fig, ax = plt.subplots(figsize=(8, 8))
        _draw_map(ax, plan, lg)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        plt.close(fig)
    return buf.getvalue()


def _policy_title(policy: dict[str, Any], lang: str) -> str:
    for key in (f"title_{lang}", "title", "title_zh", "name"):
        if policy.get(key):
            return str(policy[key])
    return "—"


def provenance_lines(manifest: dict[str, Any], lang: str = "zh") -> list[str]:
    """Human-readable provenance: creation time, policy, inputs with checksums, stage times."""
    lines = [
        f"{t('created', lang)}: {manifest.get('created', '—')}",
        f"{t('policy', lang)}: {_policy_title(manifest.get('policy') or {}, lang)}",
        f"anju {manifest.get('anju_version', '?')} · CRS {manifest.get('crs_metric', '?')}",
    ]
    dem = dem_line(manifest, lang)
    if dem is not None:
        lines.append(dem[0])
    for item in manifest.get("inputs") or []:
        sha = str(item.get("sha256") or "")[:12]
        n = item.get("features")
        lines.append(
            f"{item.get('kind', '?')}: {item.get('path', '?')} · sha256 {sha}…"
            + (f" · {n}" if n is not None else "")
        )
    stages = manifest.get("stages") or {}
    if stages:
        lines.append(" · ".join(f"{k} {float(v):.1f}s" for k, v in stages.items()))
    return lines


def notes_lines(plan: Plan, lang: str = "zh") -> list[tuple[str, list[str]]]:
    """What the figures rest on, for the page and the PDF: the manifest's warnings and the
    indicators whose threshold or clause is unverified, as (heading, lines) pairs (only
    those with lines)."""
    out = []
    warnings = [str(w) for w in plan.manifest.get("warnings") or [] if str(w).strip()]
    if warnings:
        out.append((t("warnings", lang), warnings))
    unverified = unverified_indicators(plan.indicators, lang)
    if unverified:
        out.append((t("unverified_indicators", lang), unverified))
    return out


def _ranking_bars(ax, ranking, lang: str, *, horizontal: bool = False) -> None:
    """Stacked bars per township: ready, unconfirmed, blocked, unknown, not assessed."""
    xs = np.arange(len(ranking))
    bottom = np.zeros(len(ranking))
    for col, code, key in RANKING_BARS:
        vals = ranking[col].to_numpy(dtype=float)
        kw = {"color": STATUS_COLORS[code], "label": t(key, lang)}
        if code == "x":
            kw.update(edgecolor="#6E6E6E", linewidth=0.6, linestyle="--")
        if horizontal:
            ax.barh(xs, vals, left=bottom, **kw)
        else:
            ax.bar(xs, vals, bottom=bottom, **kw)
        bottom += vals


def render_briefing_pdf(plan: Plan, lang: str = "zh", *, today: date | None = None) -> bytes:
    """A two-page A4 PDF: headline numbers by blocker class and the gaps, township ranking
    and chart; the map, the warnings, the unverified thresholds and the provenance.

    Returns
    -------
    bytes
        The PDF (begins with ``%PDF``).
    """
    lg = briefing_lang(lang)
    buf = io.BytesIO()
    with plt.rc_context(_rc(lg)), PdfPages(buf) as pdf:
        for fig in briefing_pages(plan, lg, today=today):
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()


def briefing_pages(plan: Plan, lg: str, *, today: date | None = None) -> list:
    """The two A4 pages of the briefing as matplotlib figures (call inside ``_rc(lg)``)."""
    today = today or date.today()
    heads = headline_numbers(plan.summary, plan.villages, plan.layer("road_gaps"))
    ranking = township_ranking(plan.villages)
    fig = plt.figure(figsize=(8.27, 11.69))
    title = plan.manifest.get("workspace", {}).get("name", "")
    fig.text(0.06, 0.95, f"{t('briefing_title', lg)} · {title}", fontsize=18, weight="bold")
    fig.text(
        0.06,
        0.925,
        f"{today.isoformat()} · {t('policy', lg)}: "
        f"{profile_line(plan.profile_title(lg), plan.profile, lg)}",
        fontsize=9,
        color="#444444",
    )
    y = 0.895
    for group, items in HEADLINE_GROUPS:
        fig.text(0.06, y, t(group, lg), fontsize=9, weight="bold", color="#333333")
        for i, (key, label) in enumerate(items):
            x = 0.06 + (i % 4) * 0.225
            yy = y - 0.03 - (i // 4) * 0.058
            fig.text(
                x,
                yy,
                fmt_num(heads.get(key), lg, digits=headline_digits(key)),
                fontsize=15,
                weight="bold",
                color="#1f3a5f",
            )
            for j, part in enumerate(textwrap.wrap(t(label, lg), 30 if lg == "en" else 14)):
                fig.text(x, yy - 0.016 - j * 0.011, part, fontsize=7, color="#555555")
        y -= 0.03 + 0.058 * ((len(items) + 3) // 4) + 0.012
    ax = fig.add_axes([0.08, 0.37, 0.86, 0.2])
    top = ranking.head(15)
    _ranking_bars(ax, top, lg)
    ax.set_xticks(
        np.arange(len(top)),
        [str(s) for s in top["township"]],
        rotation=45,
        ha="right",
        fontsize=7,
    )
    ax.set_ylabel(t("villages", lg), fontsize=8)
    ax.legend(fontsize=6, ncol=5, loc="upper right")
    ax.set_title(t("township_ranking", lg), fontsize=10)
    cols = [
        ("rank", "rank"),
        ("township", "township"),
        ("villages", "villages"),
        ("assessed", "col_assessed"),
        ("ready", "ready"),
        ("unconfirmed", "col_unconfirmed"),
        ("blocked", "col_not_met"),
        ("unknown", "col_unknown"),
        ("not_assessed", "col_not_assessed"),
        ("ready_frac", "ready_frac"),
    ]
    rows = [
        [fmt_frac(getattr(r, c), lg) if c == "ready_frac" else str(getattr(r, c)) for c, _ in cols]
        for r in ranking.head(20).itertuples()
    ]
    # every township (a county has 10-30): the table takes the lower third of page 1
    tab_ax = fig.add_axes([0.06, 0.02, 0.90, 0.28])
    tab_ax.axis("off")
    if rows:
        tab = tab_ax.table(
            cellText=rows,
            colLabels=[
                "\n".join(textwrap.wrap(t(k, lg), 10 if lg == "en" else 5)) for _, k in cols
            ],
            loc="upper center",
            cellLoc="center",
        )
        tab.auto_set_font_size(False)
        tab.set_fontsize(6.5)
        tab.scale(1, 1.1)
        for (r_, _c), cell in tab.get_celld().items():
            if r_ == 0:
                cell.set_height(cell.get_height() * 2)
    fig2 = plt.figure(figsize=(8.27, 11.69))
    ax2 = fig2.add_axes([0.06, 0.42, 0.88, 0.55])
    _draw_map(ax2, plan, lg)
    # under the map: the warnings, the unverified thresholds, then the data's provenance
    lines: list[tuple[str, str]] = []
    for heading, items in [
        *notes_lines(plan, lg),
        (t("provenance", lg), provenance_lines(plan.manifest, lg)),
    ]:
        lines.append(("head", heading))
        for item in items:
            lines += [("line", w) for w in textwrap.wrap(item, 150) or [""]]
    step = min(0.012, 0.36 / max(1, len(lines)))
    for j, (kind, text) in enumerate(lines):
        if kind == "head":
            fig2.text(0.06, 0.395 - j * step, text, fontsize=7.5, weight="bold")
        else:
            fig2.text(0.07, 0.395 - j * step, text, fontsize=6, color="#444444")
    fig2.text(0.06, 0.015, f"{today.isoformat()} · anju", fontsize=7, color="#666666")
    return [fig, fig2]
