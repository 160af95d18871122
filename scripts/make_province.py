"""Seeded generator of a synthetic prefecture or province: many demo counties, one workspace each.

Every county is the demo county of :mod:`scripts.make_demo` with its own seed, laid out side
by side on a grid of DEM tiles (one tile per county, all on one 30 m grid, so the tiles mosaic
without resampling). Each county's ``workspace.toml`` lists its own tile and its neighbours'
(``[layers.dem] path = [...]``), so the DEM margin beyond the county boundary is real terrain
from the neighbouring tiles, as with SRTM tiles shared by the counties of a province.

Layout::

    OUT/province.toml            the manifest: province name and adcode, target exit year,
                                 one [[counties]] table per county (name, adcode, workspace,
                                 target_exit_year)
    OUT/dem/<adcode>.tif         the shared DEM tiles
    OUT/counties/<adcode>/       one workspace per county (workspace.toml, layers, households)

Usage::

    python -m scripts.make_province OUT --counties 3 --scale 0.06     # the small test prefecture
    python -m scripts.make_province OUT --counties 60 --scale 1 --jobs 2  # province-sized

Too large to commit at province size: generate it on demand. Everything is invented; the
adcodes use prefecture "99" of Hunan (43), which does not exist. Village ids keep the demo's
county code prefix (439901...) in every county: join village tables on (adcode, village_id).
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["CountySpec", "generate_province", "main", "province_layout"]

PROVINCE_NAME = "青山州（合成示范数据）"
PROVINCE_ADCODE = "439900"
#: Synthetic county names (the demo's own first); more counties than names get a number.
COUNTY_NAMES = (
    "青岩县",
    "白溪县",
    "石门县",
    "龙潭县",
    "枫木县",
    "桃源县",
    "竹山县",
    "双河县",
    "梅江县",
    "红岩县",
    "金竹县",
    "凉风县",
)
#: The tiles of every county start on multiples of this (m): a multiple of the 30 m cell and
#: of the 1 km the generator rounds its origin to, so all tiles share one grid.
_PITCH_M = 3000.0


@dataclass(frozen=True)
class CountySpec:
    """One county of the generated province.

    Attributes
    ----------
    index
        Position in the manifest (0-based).
    name, adcode
        County name and 6-digit code.
    seed
        Seed of its generator.
    row, col
        Position on the grid of tiles.
    x0, y1
        Upper-left corner of its DEM tile in EPSG:4545 (m).
    target_exit_year
        The year the county is to leave the poverty register.
    """

    index: int
    name: str
    adcode: str
    seed: int
    row: int
    col: int
    x0: float
    y1: float
    target_exit_year: int


def _side_m(scale: float) -> float:
    """Side of one county's DEM square (m), as :func:`scripts.make_demo.generate` makes it."""
    from scripts.make_demo import DemoConfig

    cfg = DemoConfig()
    nrc = max(64, int(round(cfg.side_cells * math.sqrt(scale) / cfg.coarse_factor)))
    return nrc * cfg.coarse_factor * cfg.cell_m


def province_layout(n: int, *, scale: float, seed: int) -> list[CountySpec]:
    """The counties of a province of ``n`` counties on a near-square grid of tiles.

    Parameters
    ----------
    n
        Number of counties (at least 1).
    scale
        Size of each county (the demo's ``--scale``).
    seed
        Seed of the first county; county ``k`` uses ``seed + k``.

    Returns
    -------
    list of CountySpec

    Raises
    ------
    ValueError
        If ``n`` < 1 or ``scale`` is not positive.
    """
    if n < 1:
        raise ValueError(f"counties: expected at least 1, found {n}")
    if not scale > 0:
        raise ValueError(f"scale: expected a positive number, found {scale!r}")
    from pyproj import Transformer

    from scripts.make_demo import METRIC_CRS, STORAGE_CRS, DemoConfig

    side = _side_m(scale)
    pitch = math.ceil(side / _PITCH_M) * _PITCH_M
    cx0, cy0 = Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True).transform(
        *DemoConfig().centre_lonlat
    )
    base_x0 = math.floor((cx0 - side / 2) / _PITCH_M) * _PITCH_M
    base_y1 = math.floor((cy0 + side / 2) / _PITCH_M) * _PITCH_M
    ncols = math.ceil(math.sqrt(n))
    out = []
    for k in range(n):
        row, col = divmod(k, ncols)
        name = COUNTY_NAMES[k % len(COUNTY_NAMES)]
        if k >= len(COUNTY_NAMES):
            name = f"{name[:-1]}{k // len(COUNTY_NAMES) + 1}县"
        out.append(
            CountySpec(
                index=k,
                name=f"{name}（合成示范数据）",
                adcode=f"{PROVINCE_ADCODE[:4]}{k + 1:02d}"
                if k < 99
                else f"{PROVINCE_ADCODE[:3]}{k + 1:03d}",
                seed=seed + k,
                row=row,
                col=col,
                x0=base_x0 + col * pitch,
                y1=base_y1 - row * pitch,
                target_exit_year=2018 + k % 3,
            )
        )
    return out


def _generate_county(spec: CountySpec, out: str, scale: float, margin_m: float) -> str:
    """Write one county's workspace and DEM tile (a worker of :func:`generate_province`)."""
    import geopandas as gpd
    from pyproj import Transformer

    from scripts.make_demo import METRIC_CRS, STORAGE_CRS, DemoConfig, generate

    root = Path(out)
    side = _side_m(scale)
    # a centre that makes the generator's origin (floored to 1 km) land exactly on x0, y1
    lon, lat = Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True).transform(
        spec.x0 + side / 2 + 500.0, spec.y1 - side / 2 - 500.0
    )
    ws = root / "counties" / spec.adcode
    generate(
        ws, seed=spec.seed, scale=scale, config=replace(DemoConfig(), centre_lonlat=(lon, lat))
    )
    shutil.rmtree(ws / "years", ignore_errors=True)  # the demo's year-by-year copies: not needed
    tiles = root / "dem"
    tiles.mkdir(exist_ok=True)
    (ws / "dem.tif").replace(tiles / f"{spec.adcode}.tif")
    boundary = gpd.read_file(ws / "county.gpkg", layer="boundary")
    boundary["name"] = spec.name
    boundary.to_file(ws / "county.gpkg", layer="boundary", driver="GPKG")
    return str(ws)


def _write_workspace_toml(
    ws: Path, spec: CountySpec, neighbours: list[CountySpec], margin_m: float
) -> None:
    """Point the county's workspace at its shared tiles and give it its name."""
    toml = ws / "workspace.toml"
    text = toml.read_text(encoding="utf-8")
    tiles = ", ".join(f'"../../dem/{c.adcode}.tif"' for c in [spec, *neighbours])
    text = re.sub(r'^name = ".*"$', f'name = "{spec.name}"', text, count=1, flags=re.M)
    text = text.replace(
        '[layers.dem]\npath = "dem.tif"\n',
        f"[layers.dem]\n# its own tile first, then its neighbours' (the margin beyond the boundary)\n"
        f"path = [{tiles}]\nmargin_m = {margin_m:g}\n",
        1,
    )
    if "../../dem/" not in text:
        raise RuntimeError(f"{toml}: the [layers.dem] table of make_demo changed; update this")
    toml.write_text(
        f"# county {spec.adcode} of the synthetic province, written by scripts/make_province.py\n"
        + text,
        encoding="utf-8",
    )


def _manifest_text(specs: list[CountySpec], *, scale: float, seed: int) -> str:
    lines = [
        "# A synthetic prefecture, written by scripts/make_province.py "
        f"(seed {seed}, scale {scale:g}, {len(specs)} counties). Everything here is invented.",
        "# Run it: anju province run province.toml --out PLANS [--jobs N] [--scheduler tcp://...]",
        "[province]",
        f'name = "{PROVINCE_NAME}"',
        f'adcode = "{PROVINCE_ADCODE}"',
        "target_exit_year = 2020",
        'dem_tiles = "dem"',
        "",
    ]
    for s in specs:
        lines += [
            "[[counties]]",
            f'name = "{s.name}"',
            f'adcode = "{s.adcode}"',
            f'workspace = "counties/{s.adcode}"',
            f"target_exit_year = {s.target_exit_year}",
            "",
        ]
    return "\n".join(lines)


def generate_province(
    out_dir: str | Path,
    *,
    counties: int = 3,
    scale: float = 0.06,
    seed: int = 2017,
    margin_m: float = 5000.0,
    jobs: int = 1,
) -> Path:
    """Write a synthetic province: shared DEM tiles, one workspace per county, a manifest.

    Parameters
    ----------
    out_dir
        Folder to write (created). Counties, tiles and the manifest of an earlier run with
        more counties are removed first, so the folder holds exactly this province.
    counties
        Number of counties.
    scale
        Size of each county (the demo's ``--scale``: 1 is the demo county, ~2,300 km²;
        0.06 a ~15 km square county that plans in seconds).
    seed
        Seed of the first county (county ``k`` uses ``seed + k``).
    margin_m
        ``[layers.dem] margin_m`` of every county: how far beyond its boundary the DEM is read.
    jobs
        Counties generated in parallel (processes).

    Returns
    -------
    Path
        The manifest ``province.toml``.

    Raises
    ------
    ValueError
        If ``counties`` < 1, ``scale`` is not positive or ``margin_m`` is negative.
    """
    if margin_m < 0:
        raise ValueError(f"margin_m: expected metres >= 0, found {margin_m!r}")
    specs = province_layout(counties, scale=scale, seed=seed)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    # only what this generator writes
    for sub in ("counties", "dem"):
        if (root / sub).is_dir():
            shutil.rmtree(root / sub)
    (root / "province.toml").unlink(missing_ok=True)
    args = [(s, str(root), scale, margin_m) for s in specs]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(_generate_county, *zip(*args, strict=True)))
    else:
        for a in args:
            _generate_county(*a)
    at = {(s.row, s.col): s for s in specs}
    for s in specs:
        near = [
            at[(s.row + dr, s.col + dc)]
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr or dc) and (s.row + dr, s.col + dc) in at
        ]
        _write_workspace_toml(root / "counties" / s.adcode, s, near, margin_m)
    manifest = root / "province.toml"
    manifest.write_text(_manifest_text(specs, scale=scale, seed=seed), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m scripts.make_province OUT --counties 3 --scale 0.06``."""
    ap = argparse.ArgumentParser(description="Write a synthetic prefecture / province.")
    ap.add_argument("out", help="folder to write (province.toml, dem/, counties/)")
    ap.add_argument("--counties", type=int, default=3, help="number of counties (default 3)")
    ap.add_argument(
        "--scale", type=float, default=0.06, help="size of each county (1 = the demo county)"
    )
    ap.add_argument("--seed", type=int, default=2017, help="seed of the first county")
    ap.add_argument(
        "--margin-m", type=float, default=5000.0, help="DEM margin beyond each boundary (m)"
    )
    ap.add_argument("--jobs", type=int, default=1, help="counties generated in parallel")
    args = ap.parse_args(argv)
    try:
        manifest = generate_province(
            args.out,
            counties=args.counties,
            scale=args.scale,
            seed=args.seed,
            margin_m=args.margin_m,
            jobs=args.jobs,
        )
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    print(f"province written: {manifest} ({args.counties} counties)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
