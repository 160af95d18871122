"""Remove one optional input at a time from a workspace and compare the plan with the full run.

    python -m scripts.ablate_demo [WORKSPACE] [--out DIR]

For each optional layer (and for the industrial parks and township health centres alone) the
workspace is copied without it and planned; the table shows relocation candidates, people to
move, sites opened and the warnings that name the cause. A figure that moves without a warning
is a silent figure (DESIGN.md, rule 3).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd

from scripts.pipeline import run_pipeline

CASES = {
    "full": None,
    "no towns: industrial parks": ("towns", "kind", "industrial_park"),
    "no clinics: township health centres": ("clinics", "level", "township_health_centre"),
    "no schools": "schools",
    "no water": "water",
    "no hazards": "hazards",
    "no protected": "protected",
    "no planner sites": "sites",
    "no households": "households",
}


def _drop_layer(ws: Path, kind: str) -> None:
    toml = ws / "workspace.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(rf"\[layers\.{kind}\][^\[]*", "", text)
    text = re.sub(rf"\[layers\.{kind}\.rename\][^\[]*", "", text)
    toml.write_text(text, encoding="utf-8")


def _drop_rows(ws: Path, kind: str, col: str, value: str) -> None:
    text = (ws / "workspace.toml").read_text(encoding="utf-8")
    m = re.search(rf'\[layers\.{kind}\]\s*path = "([^"]+)"(?:\s*layer = "([^"]+)")?', text)
    assert m, kind
    path, layer = ws / m.group(1), m.group(2)
    gdf = gpd.read_file(path, layer=layer)
    kept = gdf[gdf[col] != value]
    if path.suffix == ".geojson":
        kept.to_file(path, driver="GeoJSON")
    else:
        kept.to_file(path, layer=layer, driver="GPKG")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", nargs="?", default="data/demo", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="anju-ablate-"))
    base = None
    print(f"{'case':38s} {'cand':>5s} {'people':>7s} {'sites':>5s}  warnings naming the cause")
    for name, what in CASES.items():
        ws = root / re.sub(r"\W+", "_", name)
        shutil.copytree(
            args.workspace, ws, ignore=shutil.ignore_patterns("plan"), dirs_exist_ok=True
        )
        if isinstance(what, str):
            _drop_layer(ws, what)
        elif what:
            _drop_rows(ws, *what)
        m = run_pipeline(ws, ws / "plan", progress=False)
        s = m["summary"]
        row = (s["relocation_candidates"], s["people_to_relocate"], s["sites_opened"])
        base = base or row
        new = [w for w in m["warnings"] if base is not row and w not in BASE_WARNINGS]
        if name == "full":
            BASE_WARNINGS.extend(m["warnings"])
        flag = "  MORE CANDIDATES" if row[0] > base[0] else ""
        print(f"{name:38s} {row[0]:5d} {row[1]:7d} {row[2]:5d}{flag}")
        for w in new:
            print(f"{'':58s}- {w[:150]}")
    (root / "done.json").write_text(json.dumps({"root": str(root)}))


BASE_WARNINGS: list[str] = []

if __name__ == "__main__":
    main()
