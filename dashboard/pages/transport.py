"""Transport bureau: villages without a confirmed hardened road, road gaps, km per township.

Km are split everywhere into known unhardened road, road of unknown surface (to survey
before it is counted) and connections to build (:func:`dashboard.viewmodels.gap_km_split`).
"""

from __future__ import annotations

import dash
import dash_leaflet as dl
from dash import html

from dashboard.components import grid
from dashboard.i18n import fmt_num, t
from dashboard.pages._bureau import (
    BureauSpec,
    bureau_layout,
    indicator_for,
    register_bureau_callbacks,
)
from dashboard.viewmodels import (
    display_records,
    km_per_township,
    ranked_road_gaps,
    road_km,
    to_geojson,
    transport_villages,
)

dash.register_page(__name__, path="/transport", name="transport", title="安居 · 交通")


def _km(x, lg) -> str:
    return fmt_num(x, lg, digits=1)  # None (the plan cannot split the km) reads "—"


def gaps_heading(gaps, lg: str) -> str:
    """The heading of the gaps table: the km split, never one number that mixes them."""
    km = road_km(gaps)
    return t(
        "gaps_summary",
        lg,
        known=_km(km["known_unhardened_km"], lg),
        unknown=_km(km["unknown_surface_km"], lg),
        conn=_km(km["connection_km"], lg),
    )


def _gaps_extra(plan, lg):
    gaps = ranked_road_gaps(plan.layer("road_gaps"))
    per_tw = km_per_township(gaps)
    heading = gaps_heading(gaps, lg)  # before the kinds are translated for the grid
    gap_cols = [
        ("rank", t("rank", lg)),
        ("township", t("township", lg)),
        ("kind", t("gap_kind", lg)),
        ("length_km", t("length_km", lg)),
        ("known_unhardened_km", t("unhardened_km", lg)),
        ("unknown_surface_km", t("unknown_surface_km", lg)),
        ("n_villages" if "n_villages" in gaps.columns else "villages_served", t("villages", lg)),
        ("people_served", t("people_served", lg)),
        ("people_per_km", t("people_per_km", lg)),
    ]
    gap_cols = [c for c in gap_cols if c[0] in gaps.columns]
    if "kind" in gaps.columns:
        gaps = gaps.assign(kind=gaps["kind"].map(lambda k: t(k, lg)))
    if "length_km" in gaps.columns:
        gaps = gaps.assign(length_km=gaps["length_km"].round(2))
    if "people_per_km" in gaps.columns:
        gaps = gaps.assign(people_per_km=gaps["people_per_km"].round(1))
    return [
        html.H3(t("road_gaps", lg)),
        html.Div(heading, className="summary-line", id="transport-km"),
        grid(
            "transport-gaps-grid",
            display_records(gaps, lg),
            gap_cols,
            height="260px",
            selectable=False,
            min_widths={"kind": 84, "people_per_km": 104},
        ),
        html.H3(t("km_per_township", lg)),
        grid(
            "transport-townships-grid",
            display_records(per_tw, lg),
            [
                ("township", t("township", lg)),
                ("known_unhardened_km", t("unhardened_km", lg)),
                ("unknown_surface_km", t("unknown_surface_km", lg)),
                ("connection_km", t("connection_km", lg)),
                ("length_km", t("road_gaps_total", lg)),
                ("people_served", t("people_served", lg)),
            ],
            height="220px",
            selectable=False,
        ),
    ]


def _gap_overlay(plan, lg):
    gaps = plan.layer("road_gaps")
    if gaps.empty:
        return []
    return [
        dl.Overlay(
            dl.GeoJSON(
                data=to_geojson(gaps, columns={"people_per_km": "label"}),
                style={"variable": "anju.hideoutStyle"},
                hideout={"color": "#D55E00", "weight": 5, "opacity": 0.85},
                id="transport-gaps-layer",
            ),
            name=t("road_gaps", lg),
            checked=True,
        )
    ]


def _table(plan, lg):
    """Villages without a confirmed hardened road, with readable status, quality and note
    (what the grid shows and the exports write)."""
    df = transport_villages(plan.villages, indicator=_road_id(plan))
    if "road_access" in df.columns:
        df = df.assign(
            road_access=df["road_access"].map(
                lambda x: t(x if isinstance(x, str) else "unknown", lg)
            )
        )
    if "road_status" in df.columns:
        df = df.assign(road_status=df["road_status"].map(lambda s: t(s, lg)))
    if "road_quality" in df.columns:
        df = df.assign(
            road_quality=df["road_quality"].map(
                lambda q: t(f"quality_{q}", lg) if isinstance(q, str) else "—"
            )
        )
    note = f"road_note_{'en' if lg == 'en' else 'zh'}"
    if note in df.columns:
        df = df.assign(road_note=df[note])
    return df.drop(columns=[c for c in ("road_note_zh", "road_note_en") if c in df.columns])


def _road_id(plan) -> str:
    ind = indicator_for(plan, "road")
    return ind if ind != "exit_ready" else "road"


SPEC = BureauSpec(
    page="transport",
    title_key="transport_title",
    table_title_key="transport_villages",
    table=_table,
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        # "达标（推定）" names inferred evidence; the note (hover) says which km; the
        # exports also carry road_quality and road_note
        ("road_status", "road_status"),
        ("unhardened_km", "unhardened_km"),
        ("unknown_surface_km", "unknown_surface_km"),
        ("connection_km", "connection_km"),
    ),
    indicator_hint="road",
    context=("roads",),
    extra=_gaps_extra,
    extra_overlays=_gap_overlay,
    min_widths={"name": 84, "township": 84, "population": 84, "road_status": 100},
    tooltips={"road_status": "road_note"},
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
