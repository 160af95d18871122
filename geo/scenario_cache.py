"""Interactive relocation scenarios: village → site minutes from cached grids, a quick chain.

A scenario moves thresholds or AHP weights; the villages that move and the candidate sites
change, the speed surface does not. :func:`geo.resettlement.site_cost_matrix` runs one
cost-distance per *site*, so every new site costs a Dijkstra. The cost model of
:mod:`geo.access` is symmetric -- a move between neighbouring cells ``a`` and ``b`` costs
``d * (c_a + c_b) / 2`` either way -- so the minutes from a village to a site equal the
minutes from the site to the village. :class:`VillageTravelCache` keeps one travel-time
grid per *village* (float32, on the same coarse grid, bounded by an LRU byte budget); the
cost of any site is then a lookup at its cell.

The one place the model is not symmetric is a source on a barrier cell:
:func:`geo.access.travel_time` opens such a source with its cheapest neighbour's cost, a
cell that is never entered otherwise. So a site on a barrier cell gets its own
cost-distance as before, and a village on a barrier cell is unreachable from every site
except one on its own cell (as in :func:`~geo.resettlement.site_cost_matrix`).

:func:`quick_resettlement` is the chain of :func:`geo.resettlement.plan_resettlement`
(screening → suitability → sites → minutes → allocation) with the plan-level parts
computed once and handed in (the factor rasters, the rescaled factors and exclusions, the
village grids) and no robustness draws: the dashboard's interactive answer. Its
``robustness_frac`` is NaN (not computed), never 0.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np

from geo import access, resettlement
from layers.errors import PolicyError
from layers.grid import Grid, cells
from layers.settings import RelocationRules, SiteSettings

__all__ = [
    "PrepCache",
    "VillageTravelCache",
    "quick_resettlement",
]

ProgressFn = Callable[[str, float], None]

#: Default memory budget of the village grids (bytes).
DEFAULT_MAX_BYTES = 256 * 2**20


class VillageTravelCache:
    """Travel minutes from village cells to every cell of the coarse cost grid, cached.

    Parameters
    ----------
    speed : ndarray
        The speed surface (km/h) on the analysis grid.
    grid : Grid
        The analysis grid.
    factor : int
        The coarsening of :func:`geo.resettlement.site_cost_matrix` (``cost_grid_factor``).
    max_bytes : int
        Budget of the cached grids; the least recently used grid leaves first (at least
        one grid is always kept).

    Notes
    -----
    Grids are stored as float32: costs equal :func:`~geo.resettlement.site_cost_matrix`'s
    to float32 rounding (a relative 6e-8), plus the rounding of summing the same path's
    moves in the opposite order.
    """

    def __init__(
        self, speed: np.ndarray, grid: Grid, *, factor: int, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.factor = int(factor)
        # the same coarsening as site_cost_matrix (one source for the rule)
        self.coarse = resettlement._coarse(np.asarray(speed), self.factor)
        self.grid = grid.coarsened(self.factor) if self.factor > 1 else grid
        self.passable = np.asarray(self.coarse > 0)  # NaN, 0, negative: barriers
        self.max_bytes = int(max_bytes)
        self._grids: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.computed = 0  # grids computed so far (for tests and benchmarks)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached grids."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._grids)

    def _cells(self, pts: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return cells(self.grid, pts.x.to_numpy(), pts.y.to_numpy())

    def _grid_from(self, r: int, c: int) -> np.ndarray:
        key = int(r) * self.coarse.shape[1] + int(c)
        with self._lock:
            g = self._grids.get(key)
            if g is not None:
                self._grids.move_to_end(key)
                return g
        src = np.zeros(self.coarse.shape, bool)
        src[r, c] = True
        g = access.travel_time(self.coarse, src, cellsize=self.grid.cellsize).astype("float32")
        with self._lock:
            self.computed += 1
            if key not in self._grids:
                self._grids[key] = g
                self._bytes += g.nbytes
            while self._bytes > self.max_bytes and len(self._grids) > 1:
                _, old = self._grids.popitem(last=False)
                self._bytes -= old.nbytes
        return g

    def warm(self, pts: gpd.GeoSeries) -> int:
        """Compute the grids of these points (villages likely to move) ahead of a scenario.

        Returns the number of grids computed (those already cached are not)."""
        before = self.computed
        r, c, ins = self._cells(pts)
        for i in np.flatnonzero(ins):
            if self.passable[r[i], c[i]]:
                self._grid_from(int(r[i]), int(c[i]))
        return self.computed - before

    def cost_matrix(
        self,
        demand_pts: gpd.GeoSeries,
        site_pts: gpd.GeoSeries,
        *,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Minutes from every demand point (rows) to every site (columns).

        The same matrix as :func:`geo.resettlement.site_cost_matrix` with this cache's
        ``factor``: NaN where a point is off the grid or the pair is unreachable.
        """
        dr, dc, dins = self._cells(demand_pts)
        sr, sc, sins = self._cells(site_pts)
        n, m = len(demand_pts), len(site_pts)
        cost = np.full((n, m), np.nan)
        if not n or not m:
            return cost
        s_ok = np.zeros(m, bool)
        s_ok[sins] = self.passable[sr[sins], sc[sins]]
        cols = np.flatnonzero(s_ok)
        for k, i in enumerate(np.flatnonzero(dins)):
            if progress:
                progress(f"village {k + 1}/{n}", k / max(1, n))
            if self.passable[dr[i], dc[i]]:
                g = self._grid_from(int(dr[i]), int(dc[i]))
                cost[i, cols] = g[sr[cols], sc[cols]]
            else:
                # a village on a barrier cell: never entered from a site, except by a
                # site on that very cell (its own source, 0 minutes)
                same = cols[(sr[cols] == dr[i]) & (sc[cols] == dc[i])]
                cost[i, same] = 0.0
        # sites on barrier cells: the asymmetric case, one cost-distance each as before
        for j in np.flatnonzero(sins & ~s_ok):
            src = np.zeros(self.coarse.shape, bool)
            src[sr[j], sc[j]] = True
            tt = access.travel_time(self.coarse, src, cellsize=self.grid.cellsize)
            cost[dins, j] = tt[dr[dins], dc[dins]]
        return cost


#: Site settings that shape :func:`geo.resettlement.prepare_suitability`'s output besides
#: the AHP matrix (which only :func:`~geo.resettlement.combine_suitability` reads).
_PREP_KEYS: tuple[str, ...] = (
    "factors",
    "ranges",
    "slope_limit_deg",
    "hazard_buffer_m",
    "protected_buffer_m",
    "water_buffer_m",
    "all_touched",
)


@dataclass
class PrepCache:
    """:func:`geo.resettlement.prepare_suitability` results by the settings that shape them
    (a weight change reuses the exclusions and the rescaled factors; the few most recent
    are kept)."""

    keep: int = 4
    _items: OrderedDict[str, resettlement.SuitabilityInputs] = field(default_factory=OrderedDict)

    def get(
        self,
        factors: Mapping[str, np.ndarray],
        sites: SiteSettings,
        layers: Mapping[str, gpd.GeoDataFrame],
        grid: Grid,
        outside: np.ndarray,
    ) -> resettlement.SuitabilityInputs:
        """The prepared overlay for ``sites``, with ``sites.ahp`` as its matrix.

        Raises
        ------
        PolicyError
            As :func:`~geo.resettlement.prepare_suitability` does.
        """
        key = repr([(k, getattr(sites, k)) for k in _PREP_KEYS])
        prep = self._items.get(key)
        if prep is None:
            prep = resettlement.prepare_suitability(factors, sites, layers, grid, outside)
            self._items[key] = prep
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
            return prep
        self._items.move_to_end(key)
        matrix = np.asarray(sites.ahp, dtype=float)
        n = len(sites.factors)
        if matrix.shape != (n, n):  # the same refusal, with the same message
            return resettlement.prepare_suitability(factors, sites, layers, grid, outside)
        return replace(prep, matrix=matrix)


def quick_resettlement(
    villages: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
    grid: Grid,
    rasters: Mapping[str, np.ndarray],
    outside: np.ndarray,
    *,
    rules: RelocationRules,
    sites: SiteSettings,
    factors: Mapping[str, np.ndarray],
    prep_cache: PrepCache,
    travel: VillageTravelCache,
    progress: ProgressFn | None = None,
) -> resettlement.ResettlementResult:
    """The relocation chain of :func:`geo.resettlement.plan_resettlement` on cached inputs,
    without robustness draws.

    Parameters
    ----------
    villages, layers, grid, rasters, outside, rules, sites
        As for :func:`~geo.resettlement.plan_resettlement`; ``sites.solver`` picks the
        allocation (``heuristic``: :func:`geo.siting.allocate_heuristic` within
        ``sites.heuristic_time_s``; ``exact``: :func:`geo.siting.allocate`).
    factors
        :func:`geo.resettlement.factor_rasters` of the plan (computed once).
    prep_cache
        Prepared overlays (:class:`PrepCache`).
    travel
        Village grids on the coarse grid of ``sites.cost_grid_factor``.
    progress
        ``progress(step, fraction)``.

    Returns
    -------
    ResettlementResult
        ``sites.robustness_frac`` is NaN (not computed) and a note says so.

    Raises
    ------
    PolicyError
        For a bad factor list or AHP matrix, or when ``travel`` was built for another
        ``cost_grid_factor``.
    """
    if travel.factor != sites.cost_grid_factor:
        raise PolicyError(
            f"[suitability] cost_grid_factor {sites.cost_grid_factor}: the cached village "
            f"grids were built for factor {travel.factor}"
        )
    return resettlement.plan_resettlement(
        villages,
        layers,
        grid,
        rasters,
        None,
        outside,
        rules=rules,
        sites=sites,
        progress=progress,
        prep=prep_cache.get(factors, sites, layers, grid, outside),
        cost_matrix=travel.cost_matrix,
        robustness=False,
    )
