"""Transport bureau: villages lacking a hardened road, road gaps, km per township."""

from __future__ import annotations

import dash
import dash_leaflet as dl
from dash import html

from dashboard.components import grid
from dashboard.i18n import fmt_num, t
from dashboard.pages._bureau import BureauSpec, bureau_layout, register_bureau_callbacks
from dashboard.viewmodels import (
    display_records,
    km_per_township,
    ranked_road_gaps,
    to_geojson,
    transport_villages,
)

dash.register_page(__name__, path="/transport", name="transport", title="安居 · 交通")


def _gaps_extra(plan, lg):
    gaps = ranked_road_gaps(plan.layer("road_gaps"))
    per_tw = km_per_township(gaps)
    total = float(gaps["length_km"].sum()) if "length_km" in gaps.columns else 0.0
    gap_cols = [
        ("rank", t("rank", lg)),
        ("township", t("township", lg)),
        ("length_km", t("length_km", lg)),
        ("n_villages" if "n_villages" in gaps.columns else "villages_served", t("villages", lg)),
        ("people_served", t("people_served", lg)),
        ("people_per_km", t("people_per_km", lg)),
    ]
    gap_cols = [c for c in gap_cols if c[0] in gaps.columns]
    if "length_km" in gaps.columns:
        gaps = gaps.assign(length_km=gaps["length_km"].round(2))
    if "people_per_km" in gaps.columns:
        gaps = gaps.assign(people_per_km=gaps["people_per_km"].round(1))
    return [
        html.H3(f"{t('road_gaps', lg)} · {fmt_num(total, lg, digits=1)} km"),
        grid(
            "transport-gaps-grid",
            display_records(gaps, lg),
            gap_cols,
            height="260px",
            selectable=False,
        ),
        html.H3(t("km_per_township", lg)),
        grid(
            "transport-townships-grid",
            display_records(per_tw, lg),
            [
                ("township", t("township", lg)),
                ("length_km", t("length_km", lg)),
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


def _with_labels(df, lg):
    if "road_access" in df.columns:
        df = df.assign(
            road_access=df["road_access"].map(
                lambda x: t(x if isinstance(x, str) else "unknown", lg)
            )
        )
    return df


SPEC = BureauSpec(
    page="transport",
    title_key="transport_title",
    table_title_key="transport_villages",
    table=lambda plan, lg: _with_labels(transport_villages(plan.villages), lg),
    key="village_id",
    columns=(
        ("name", "name"),
        ("township", "township"),
        ("population", "population"),
        ("road_access", "road_access"),
        ("unhardened_km", "unhardened_km"),
    ),
    indicator_hint="road",
    context=("roads",),
    extra=_gaps_extra,
    extra_overlays=_gap_overlay,
)


def layout(**_kwargs):
    return bureau_layout(SPEC)


register_bureau_callbacks(SPEC)
