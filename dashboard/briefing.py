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
    EXIT_READY,
    STATUS_COLORS,
    headline_numbers,
    status_codes,
    township_ranking,
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
HEADLINE_KEYS = (
    ("villages", "villages_total"),
    ("exit_ready", "ready"),
    ("blocked_one", "blocked_one"),
    ("blocked_several", "blocked_several"),
    ("unknown", "unknown_villages"),
    ("people_to_relocate", "people_to_relocate"),
    ("km_to_harden", "km_to_harden"),
    ("no_safe_water", "no_safe_water"),
    ("no_standard_clinic", "no_standard_clinic"),
)


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
    codes = status_codes(plan.villages, [])[EXIT_READY]
    pts = v.geometry.representative_point()
    for code, key in (("m", "ready"), ("n", "not_met"), ("u", "unknown")):
        sel = (codes == code).values
        ax.scatter(
            pts.x[sel],
            pts.y[sel],
            s=26,
            c=STATUS_COLORS[code],
            edgecolors="white",
            linewidths=0.5,
            label=f"{t(key, lang)} ({int(sel.sum())})",
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


def render_briefing_pdf(plan: Plan, lang: str = "zh", *, today: date | None = None) -> bytes:
    """A two-page A4 PDF: headline numbers, township ranking and chart; the map.

    Returns
    -------
    bytes
        The PDF (begins with ``%PDF``).
    """
    lg = briefing_lang(lang)
    today = today or date.today()
    heads = headline_numbers(plan.summary, plan.villages)
    ranking = township_ranking(plan.villages)
    buf = io.BytesIO()
    with plt.rc_context(_rc(lg)), PdfPages(buf) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        title = plan.manifest.get("workspace", {}).get("name", "")
        fig.text(0.06, 0.95, f"{t('briefing_title', lg)} · {title}", fontsize=18, weight="bold")
        fig.text(
            0.06,
            0.925,
            f"{today.isoformat()} · {t('policy', lg)}: {plan.profile_title(lg)}",
            fontsize=9,
            color="#444444",
        )
        for i, (key, label) in enumerate(HEADLINE_KEYS):
            x = 0.06 + (i % 3) * 0.31
            y = 0.86 - (i // 3) * 0.065
            val = heads.get(key)
            digits = 1 if key == "km_to_harden" else 0
            fig.text(
                x, y, fmt_num(val, lg, digits=digits), fontsize=16, weight="bold", color="#1f3a5f"
            )
            fig.text(x, y - 0.018, t(label, lg), fontsize=8, color="#555555")
        ax = fig.add_axes([0.08, 0.42, 0.86, 0.22])
        top = ranking.head(15)
        xs = np.arange(len(top))
        ax.bar(xs, top["ready"], color=STATUS_COLORS["m"], label=t("ready", lg))
        ax.bar(
            xs,
            top["blocked"],
            bottom=top["ready"],
            color=STATUS_COLORS["n"],
            label=t("not_met", lg),
        )
        ax.bar(
            xs,
            top["unknown"],
            bottom=top["ready"] + top["blocked"],
            color=STATUS_COLORS["u"],
            label=t("unknown", lg),
        )
        ax.set_xticks(xs, [str(s) for s in top["township"]], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel(t("villages", lg), fontsize=8)
        ax.legend(fontsize=7)
        ax.set_title(t("township_ranking", lg), fontsize=10)
        rows = [
            [
                str(r.rank),
                str(r.township),
                str(r.villages),
                str(r.ready),
                fmt_frac(r.ready_frac, lg),
            ]
            for r in ranking.head(20).itertuples()
        ]
        # every township (a county has 10-30): the table takes the lower third of page 1
        tab_ax = fig.add_axes([0.08, 0.04, 0.86, 0.33])
        tab_ax.axis("off")
        if rows:
            tab = tab_ax.table(
                cellText=rows,
                colLabels=[
                    t("rank", lg),
                    t("township", lg),
                    t("villages", lg),
                    t("ready", lg),
                    t("ready_frac", lg),
                ],
                loc="upper center",
                cellLoc="center",
            )
            tab.auto_set_font_size(False)
            tab.set_fontsize(7)
            tab.scale(1, 1.1)
        pdf.savefig(fig)
        plt.close(fig)
        fig2 = plt.figure(figsize=(8.27, 11.69))
        ax2 = fig2.add_axes([0.06, 0.36, 0.88, 0.60])
        _draw_map(ax2, plan, lg)
        # the data's provenance in full, under the map: inputs with checksums, policy, CRS, stage times
        prov = [
            w
            for line in provenance_lines(plan.manifest, lg)
            for w in textwrap.wrap(line, 150) or [""]
        ]
        fig2.text(0.06, 0.325, t("provenance", lg), fontsize=8, weight="bold")
        step = min(0.012, 0.28 / max(1, len(prov)))
        for j, line in enumerate(prov):
            fig2.text(0.06, 0.305 - j * step, line, fontsize=6, color="#444444")
        fig2.text(0.06, 0.015, f"{today.isoformat()} · anju", fontsize=7, color="#666666")
        pdf.savefig(fig2)
        plt.close(fig2)
    return buf.getvalue()
