"""Road graph: noding, snapping, hardened subgraph and hardened-road gaps.

A :class:`RoadNetwork` is built once from the roads layer (projected CRS) and
answers the transport bureau's question "which villages still lack a hardened
road into the village, and which road sections must be hardened?".

Noding assumes every crossing is at grade: two roads that cross are joined at
the crossing (bridges and tunnels over other roads are not modelled). Endpoints
closer than ``snap_tolerance_m`` are merged, and a road ending within the
tolerance of another road's interior (a near-miss T junction) is extended onto
it. Shortest paths use :func:`scipy.sparse.csgraph.dijkstra`; networkx is not
used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from layers.errors import CRSError, LayerSchemaError
from layers.tristate import to_tristate

__all__ = [
    "ROAD_CLASS_RANK",
    "RoadNetwork",
    "build_network",
    "hardened_subgraph",
    "main_hardened_nodes",
    "network_distance",
    "snap_points",
    "unhardened_gap",
]

#: Preference among roads drawn on top of each other (lower is better): the
#: noded segment takes the attributes of the highest-class road.
ROAD_CLASS_RANK: dict[str, int] = {
    "national": 0,
    "provincial": 1,
    "county": 2,
    "township": 3,
    "village": 4,
    "track": 5,
    "path": 6,
}

_REQUIRED = ("road_id", "road_class", "hardened")


@dataclass
class RoadNetwork:
    """An undirected road graph.

    Attributes
    ----------
    nodes : numpy.ndarray
        (n, 2) node coordinates in ``crs``.
    edges : geopandas.GeoDataFrame
        One row per edge, index = ``edge_id`` (0..m-1 in a full network), columns
        ``edge_id``, ``u``, ``v`` (node indices; the geometry runs from ``u`` to
        ``v``), ``length_m``, ``road_id``, ``road_class``, ``surface``,
        ``hardened`` (pandas nullable boolean, <NA> = unknown), geometry.
    crs : pyproj.CRS
        The projected CRS of nodes and edges.
    snap_tolerance_m : float
        Tolerance used when building.
    """

    nodes: np.ndarray
    edges: gpd.GeoDataFrame
    crs: object
    snap_tolerance_m: float = 5.0
    _tree: shapely.STRtree | None = field(default=None, init=False, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.nodes.shape[0])

    def tree(self) -> shapely.STRtree:
        """Spatial index over edge geometries (positional, cached)."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.edges.geometry.to_numpy())
        return self._tree

    def csgraph(self, weight: np.ndarray | None = None) -> tuple[sparse.csr_matrix, dict]:
        """Symmetric sparse adjacency for :mod:`scipy.sparse.csgraph`.

        Parallel edges keep the lightest; self loops are left out.

        Parameters
        ----------
        weight : numpy.ndarray, optional
            Per-edge positive weight aligned with ``edges`` rows; default ``length_m``.

        Returns
        -------
        graph : scipy.sparse.csr_matrix
        pair_edge : dict
            ``(min(u, v), max(u, v)) -> edge_id`` of the edge used for that pair.
        """
        e = self.edges
        w = e["length_m"].to_numpy(float) if weight is None else np.asarray(weight, float)
        return _csgraph(
            self.n_nodes, e["u"].to_numpy(), e["v"].to_numpy(), w, e["edge_id"].to_numpy()
        )


def build_network(roads: gpd.GeoDataFrame, *, snap_tolerance_m: float = 5.0) -> RoadNetwork:
    """Build a noded road graph from a roads layer.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        Lines in a projected CRS with ``road_id``, ``road_class``, ``hardened``
        (True / False / <NA> or None = unknown) and optionally ``surface``.
    snap_tolerance_m : float, default 5.0
        Endpoints closer than this are merged into one node (transitively, so a
        chain of close endpoints becomes one node); a road ending this close to
        another road's interior is joined to it. 0 joins only exact coincidences.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    CRSError
        If the layer has no CRS or a geographic one.
    LayerSchemaError
        If required columns are missing or geometries are not lines.
    """
    _require_projected(roads.crs, "roads")
    missing = [c for c in _REQUIRED if c not in roads.columns]
    if missing:
        raise LayerSchemaError(
            f"roads: missing column(s) {missing}; expected {list(_REQUIRED)} (+ optional 'surface'), "
            f"found {list(roads.columns)}"
        )
    if snap_tolerance_m < 0:
        raise ValueError(f"snap_tolerance_m must be >= 0, found {snap_tolerance_m}")
    tol = float(snap_tolerance_m)

    roads = roads[~(roads.geometry.isna() | roads.geometry.is_empty)]
    gtypes = set(roads.geom_type.unique())
    bad = gtypes - {"LineString", "MultiLineString"}
    if bad:
        raise LayerSchemaError(
            f"roads: expected LineString/MultiLineString geometries, found {sorted(bad)}"
        )
    parts = roads.explode(index_parts=False).reset_index(drop=True)
    parts = parts[parts.geometry.length > 0].reset_index(drop=True)
    hardened = to_tristate(parts["hardened"], where="roads.hardened")
    surface = parts["surface"] if "surface" in parts.columns else pd.Series(None, index=parts.index)

    if len(parts) == 0:
        edges = gpd.GeoDataFrame(
            {
                "edge_id": pd.Series([], dtype=np.int64),
                "u": pd.Series([], dtype=np.int64),
                "v": pd.Series([], dtype=np.int64),
                "length_m": pd.Series([], dtype=float),
                "road_id": pd.Series([], dtype=object),
                "road_class": pd.Series([], dtype=object),
                "surface": pd.Series([], dtype=object),
                "hardened": pd.Series([], dtype="boolean"),
            },
            geometry=gpd.GeoSeries([], crs=roads.crs),
            crs=roads.crs,
        )
        return RoadNetwork(np.empty((0, 2)), edges, roads.crs, tol)

    geoms = parts.geometry.to_numpy()
    if tol > 0:
        geoms = _join_near_misses(geoms, tol)

    # 1. node all lines at their crossings (at grade)
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(geoms)))
    noded = noded[shapely.length(noded) > 0]

    # 2. give each noded segment the attributes of the road it came from
    src_tree = shapely.STRtree(geoms)
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    # a midpoint lies on its source road up to float noise; the bound keeps the search local
    seg_idx, src_idx = src_tree.query(mids, predicate="dwithin", distance=1e-3)
    lost = np.setdiff1d(np.arange(len(noded)), seg_idx)
    if lost.size:
        (li, lsrc), _ = src_tree.query_nearest(mids[lost], return_distance=True, all_matches=True)
        seg_idx = np.concatenate([seg_idx, lost[li]])
        src_idx = np.concatenate([src_idx, lsrc])
    # a road crossing exactly at the midpoint also matches: prefer the road that
    # also holds the segment's quarter points, then the preferred class/surface
    off_line = np.zeros(len(seg_idx))
    for frac in (0.25, 0.75):
        q = shapely.line_interpolate_point(noded[seg_idx], frac, normalized=True)
        off_line = np.maximum(off_line, shapely.distance(q, geoms[src_idx]))
    rank = _preference(parts["road_class"].to_numpy(), hardened)
    order = np.lexsort((rank[src_idx], off_line > 1e-3, seg_idx))
    seg_sorted, src_sorted = seg_idx[order], src_idx[order]
    first = np.ones(len(seg_sorted), dtype=bool)
    first[1:] = seg_sorted[1:] != seg_sorted[:-1]
    seg_src = np.empty(len(noded), dtype=np.int64)
    seg_src[seg_sorted[first]] = src_sorted[first]

    # 3. merge endpoints within tolerance into nodes
    coords_start = shapely.get_coordinates(shapely.get_point(noded, 0))
    coords_end = shapely.get_coordinates(shapely.get_point(noded, -1))
    pts = np.vstack([coords_start, coords_end])
    node_of, nodes = _cluster_points(pts, tol)
    m = len(noded)
    u = node_of[:m]
    v = node_of[m:]

    # 4. move segment ends onto their node, drop collapsed slivers
    coords, owner = shapely.get_coordinates(noded, return_index=True)
    starts = np.searchsorted(owner, np.arange(m))
    ends = np.append(starts[1:], len(owner)) - 1
    coords[starts] = nodes[u]
    coords[ends] = nodes[v]
    new_geoms = shapely.linestrings(coords, indices=owner)
    length = shapely.length(new_geoms)
    keep = ~((u == v) & (length <= max(tol, 1e-9))) & (length > 0)

    src = seg_src[keep]
    edges = gpd.GeoDataFrame(
        {
            "edge_id": np.arange(int(keep.sum()), dtype=np.int64),
            "u": u[keep].astype(np.int64),
            "v": v[keep].astype(np.int64),
            "length_m": length[keep],
            "road_id": parts["road_id"].to_numpy()[src],
            "road_class": parts["road_class"].to_numpy()[src],
            "surface": surface.to_numpy()[src],
            "hardened": pd.array(hardened.to_numpy()[src], dtype="boolean"),
        },
        geometry=gpd.GeoSeries(new_geoms[keep], crs=roads.crs),
        crs=roads.crs,
    )
    # drop nodes no edge uses (slivers), renumber
    used = np.zeros(len(nodes), dtype=bool)
    used[edges["u"].to_numpy()] = True
    used[edges["v"].to_numpy()] = True
    remap = np.cumsum(used) - 1
    edges["u"] = remap[edges["u"].to_numpy()]
    edges["v"] = remap[edges["v"].to_numpy()]
    return RoadNetwork(nodes[used], edges, roads.crs, tol)


def snap_points(
    net: RoadNetwork, points_gdf: gpd.GeoDataFrame, *, max_snap_m: float | None = None
) -> pd.DataFrame:
    """Snap points (or polygons) to their nearest road edge.

    The graph is not modified: a snapped point is a *virtual node* on its edge
    at ``edge_pos_m`` metres from ``u`` (along the geometry), reached from ``u``
    in ``dist_to_u_m`` and from ``v`` in ``dist_to_v_m``. Shortest paths from a
    snapped point take the better of its two edge ends. For a polygon the
    nearest point of the polygon is used (distance 0 when a road enters it).

    Parameters
    ----------
    net : RoadNetwork
    points_gdf : geopandas.GeoDataFrame
        Geometries in ``net``'s CRS.
    max_snap_m : float, optional
        Points farther than this from every road are not snapped (``edge_id``
        -1, NaN elsewhere); ``snap_dist_m`` is NaN for them too.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points_gdf``: ``edge_id``, ``u``, ``v``, ``snap_dist_m``,
        ``edge_pos_m``, ``dist_to_u_m``, ``dist_to_v_m``, ``snap_x``, ``snap_y``.

    Raises
    ------
    CRSError
        If the points' CRS differs from the network's.
    """
    _same_crs(points_gdf.crs, net.crs, "points")
    n = len(points_gdf)
    out = pd.DataFrame(
        {
            "edge_id": np.full(n, -1, dtype=np.int64),
            "u": np.full(n, -1, dtype=np.int64),
            "v": np.full(n, -1, dtype=np.int64),
            "snap_dist_m": np.full(n, np.nan),
            "edge_pos_m": np.full(n, np.nan),
            "dist_to_u_m": np.full(n, np.nan),
            "dist_to_v_m": np.full(n, np.nan),
            "snap_x": np.full(n, np.nan),
            "snap_y": np.full(n, np.nan),
        },
        index=points_gdf.index,
    )
    if n == 0 or len(net.edges) == 0:
        return out
    geoms = points_gdf.geometry.to_numpy()
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    qidx = np.flatnonzero(valid)
    (pi, ei), dist = net.tree().query_nearest(
        geoms[qidx], max_distance=max_snap_m, return_distance=True, all_matches=False
    )
    pi = qidx[pi]
    egeom = net.edges.geometry.to_numpy()[ei]
    pgeom = geoms[pi]
    is_point = shapely.get_type_id(pgeom) == 0
    on_edge = np.empty(len(pgeom), dtype=object)
    if is_point.any():  # projecting onto the line is exact for points
        e, g = egeom[is_point], pgeom[is_point]
        on_edge[is_point] = shapely.line_interpolate_point(e, shapely.line_locate_point(e, g))
    if (~is_point).any():  # polygons (and lines): the edge's point nearest to them
        on_edge[~is_point] = shapely.get_point(
            shapely.shortest_line(egeom[~is_point], pgeom[~is_point]), 0
        )
    pos = shapely.line_locate_point(egeom, on_edge)
    length = net.edges["length_m"].to_numpy()[ei]
    xy = shapely.get_coordinates(on_edge)
    col = out.columns.get_loc
    out.iloc[pi, col("edge_id")] = net.edges["edge_id"].to_numpy()[ei]
    out.iloc[pi, col("u")] = net.edges["u"].to_numpy()[ei]
    out.iloc[pi, col("v")] = net.edges["v"].to_numpy()[ei]
    out.iloc[pi, col("snap_dist_m")] = dist
    out.iloc[pi, col("edge_pos_m")] = pos
    out.iloc[pi, col("dist_to_u_m")] = pos
    out.iloc[pi, col("dist_to_v_m")] = np.maximum(length - pos, 0.0)
    out.iloc[pi, col("snap_x")] = xy[:, 0]
    out.iloc[pi, col("snap_y")] = xy[:, 1]
    return out


def hardened_subgraph(net: RoadNetwork) -> RoadNetwork:
    """The edges whose surface is known to be hardened (``hardened`` True).

    Nodes are shared with ``net`` (same indices); ``edge_id`` keeps the
    parent network's ids. Unknown surfaces are left out.
    """
    mask = net.edges["hardened"].fillna(False).to_numpy(bool)
    return RoadNetwork(net.nodes, net.edges[mask].copy(), net.crs, net.snap_tolerance_m)


def main_hardened_nodes(net: RoadNetwork, *, county_seat: object | None = None) -> np.ndarray:
    """Nodes of the main hardened network.

    The main hardened network is the connected component of hardened edges
    containing the hardened edge nearest to ``county_seat`` (a shapely point in
    the network CRS) when given, otherwise the component with the largest total
    hardened length.

    Returns
    -------
    numpy.ndarray
        Sorted node indices (empty if there is no hardened edge).
    """
    hard = hardened_subgraph(net)
    if len(hard.edges) == 0:
        return np.empty(0, dtype=np.int64)
    graph, _ = hard.csgraph()
    _, comp = connected_components(graph, directed=False)
    eu = hard.edges["u"].to_numpy()
    if county_seat is not None:
        k = hard.tree().nearest(county_seat)
        main = comp[eu[k]]
    else:
        per_comp = np.bincount(comp[eu], weights=hard.edges["length_m"].to_numpy())
        main = int(np.argmax(per_comp))
    touched = np.zeros(net.n_nodes, dtype=bool)
    touched[eu] = True
    touched[hard.edges["v"].to_numpy()] = True
    return np.flatnonzero(touched & (comp == main))


def unhardened_gap(
    net: RoadNetwork,
    villages_gdf: gpd.GeoDataFrame,
    *,
    max_snap_m: float,
    hardened_network_snap_m: float,
    county_seat: object | None = None,
    tie_weight: float = 1e-6,
) -> gpd.GeoDataFrame:
    """Classify each village's road access and list the road sections to harden.

    Every village is snapped to its nearest road edge. Then:

    * ``"no_road"``: no road within ``max_snap_m``.
    * ``"hardened"``: the village reaches the main hardened network (see
      :func:`main_hardened_nodes`) over hardened edges only; this includes a
      village snapped onto a main-network edge and a village within
      ``hardened_network_snap_m`` of a main-network edge even when another road
      is nearer. A hardened stub not connected to the main network does not count.
    * otherwise the cheapest path to the main network is found, minimising the
      length of not-known-hardened road (unhardened plus unknown surface), ties
      broken by total length (weight ``nonhard_m + tie_weight * length_m``).
      ``"unknown"`` when the only not-hardened roads on that path are of unknown
      surface (they may well be hardened); ``"gap"`` as soon as the path has known
      unhardened km (whatever the unknown parts turn out to be).
      A village whose road does not connect to the main network at all is a
      ``"gap"`` with NaN ``unhardened_km`` (a new road is needed, not hardening).

    Parameters
    ----------
    net : RoadNetwork
    villages_gdf : geopandas.GeoDataFrame
        Village points or polygons in the network CRS.
    max_snap_m : float
        Farthest a village may be from a road to be served by it.
    hardened_network_snap_m : float
        A village this close to the main hardened network counts as hardened.
    county_seat : shapely Point, optional
        Picks the main hardened component; default the largest one.
    tie_weight : float, default 1e-6
        Weight of total length in the path cost (tiebreak).

    Returns
    -------
    geopandas.GeoDataFrame
        Copy of ``villages_gdf`` with ``road_snap_m`` (distance to the nearest
        road, even beyond ``max_snap_m``), ``road_access``, ``unhardened_km``
        (known-unhardened length on the path, the village's own edge counted
        from the village's position only), ``unknown_surface_km`` and
        ``gap_edge_ids`` (list of ``edge_id`` on the path that are not known to
        be hardened: the sections to harden or survey).

    Raises
    ------
    CRSError
        If the villages' CRS differs from the network's.
    """
    _same_crs(villages_gdf.crs, net.crs, "villages")
    out = villages_gdf.copy()
    n = len(out)
    access = np.full(n, "no_road", dtype=object)
    unhard_km = np.full(n, np.nan)
    unknown_km = np.full(n, np.nan)
    gap_ids: list[list[int]] = [[] for _ in range(n)]

    nearest = snap_points(net, villages_gdf)
    out["road_snap_m"] = nearest["snap_dist_m"].to_numpy()
    snapped = nearest["snap_dist_m"].to_numpy() <= max_snap_m

    e = net.edges
    known_hard = e["hardened"].fillna(False).to_numpy(bool)
    unknown = e["hardened"].isna().to_numpy()
    length = e["length_m"].to_numpy(float)
    nonhard = np.where(known_hard, 0.0, length)
    w = nonhard + tie_weight * length
    row_of = pd.Series(np.arange(len(e)), index=e["edge_id"].to_numpy())

    main_nodes = main_hardened_nodes(net, county_seat=county_seat)
    if len(main_nodes):
        graph, pair_edge = net.csgraph(w)
        dist, pred, _ = dijkstra(
            graph, directed=False, indices=main_nodes, return_predecessors=True, min_only=True
        )
        in_main = np.zeros(net.n_nodes, dtype=bool)
        in_main[main_nodes] = True
        main_edge = known_hard & in_main[e["u"].to_numpy()] & in_main[e["v"].to_numpy()]
        near_main = np.zeros(n, dtype=bool)
        if main_edge.any() and hardened_network_snap_m is not None:
            tree = shapely.STRtree(e.geometry.to_numpy()[main_edge])
            geoms = villages_gdf.geometry.to_numpy()
            (pi, _), _ = tree.query_nearest(
                geoms, max_distance=hardened_network_snap_m, return_distance=True
            )
            near_main[pi] = True
    else:
        dist = np.full(net.n_nodes, np.inf)
        pred = np.full(net.n_nodes, -9999)
        pair_edge = {}
        main_edge = np.zeros(len(e), dtype=bool)
        near_main = np.zeros(n, dtype=bool)

    eid_arr = nearest["edge_id"].to_numpy()
    for k in np.flatnonzero(snapped):
        r = int(row_of[eid_arr[k]])
        if main_edge[r] or near_main[k]:
            access[k], unhard_km[k], unknown_km[k] = "hardened", 0.0, 0.0
            continue
        du = nearest["dist_to_u_m"].iat[k]
        dv = nearest["dist_to_v_m"].iat[k]
        u, v = int(e["u"].iat[r]), int(e["v"].iat[r])
        frac_w = w[r] / length[r] if length[r] > 0 else 0.0
        cu = dist[u] + du * frac_w
        cv = dist[v] + dv * frac_w
        if not np.isfinite(min(cu, cv)):
            access[k] = "gap"  # not connected to the main hardened network by any road
            continue
        node, part = (u, du) if cu <= cv else (v, dv)
        path = [(r, part)]
        while pred[node] >= 0:
            p = int(pred[node])
            key = (min(node, p), max(node, p))
            pr = int(row_of[pair_edge[key]])
            path.append((pr, length[pr]))
            node = p
        unh = sum(ln for pr, ln in path if not known_hard[pr] and not unknown[pr])
        unk = sum(ln for pr, ln in path if unknown[pr])
        unhard_km[k], unknown_km[k] = unh / 1000.0, unk / 1000.0
        ids = [int(e["edge_id"].iat[pr]) for pr, ln in path if not known_hard[pr] and ln > 0]
        gap_ids[k] = list(dict.fromkeys(ids))
        if unh + unk <= 1e-9:
            access[k] = "hardened"
        elif unh <= 1e-9:
            access[k] = "unknown"  # only unknown surfaces stand between it and the network
        else:
            access[k] = (
                "gap"  # known unhardened km on the way: a gap whatever the unknown parts are
            )

    out["road_access"] = access
    out["unhardened_km"] = unhard_km
    out["unknown_surface_km"] = unknown_km
    out["gap_edge_ids"] = gap_ids
    return out


def network_distance(
    net: RoadNetwork,
    from_points: gpd.GeoDataFrame,
    to_points: gpd.GeoDataFrame,
    *,
    max_snap_m: float | None = None,
) -> np.ndarray:
    """Shortest road distance in km between snapped points.

    Distances run along the network between the points' snapped positions
    (the off-road snap distance is not added; add ``snap_dist_m`` if needed).
    Runs one Dijkstra per distinct edge end of the smaller point set, so keep
    that set small (e.g. clinics or towns, not every village).

    Returns
    -------
    numpy.ndarray
        (len(from_points), len(to_points)) km; NaN when a point is not snapped
        or the two are not connected.
    """
    if len(to_points) < len(from_points):  # undirected: search from the smaller side
        return network_distance(net, to_points, from_points, max_snap_m=max_snap_m).T
    a = snap_points(net, from_points, max_snap_m=max_snap_m)
    b = snap_points(net, to_points, max_snap_m=max_snap_m)
    out = np.full((len(a), len(b)), np.nan)
    ok_a = a["edge_id"].to_numpy() >= 0
    ok_b = b["edge_id"].to_numpy() >= 0
    if not ok_a.any() or not ok_b.any():
        return out
    graph, _ = net.csgraph()
    src_nodes = np.unique(np.concatenate([a["u"].to_numpy()[ok_a], a["v"].to_numpy()[ok_a]]))
    d = dijkstra(graph, directed=False, indices=src_nodes)
    row = {int(nd): i for i, nd in enumerate(src_nodes)}
    au, av = a["u"].to_numpy(), a["v"].to_numpy()
    adu, adv = a["dist_to_u_m"].to_numpy(), a["dist_to_v_m"].to_numpy()
    bu, bv = b["u"].to_numpy(), b["v"].to_numpy()
    bdu, bdv = b["dist_to_u_m"].to_numpy(), b["dist_to_v_m"].to_numpy()
    aedge, bedge = a["edge_id"].to_numpy(), b["edge_id"].to_numpy()
    apos, bpos = a["edge_pos_m"].to_numpy(), b["edge_pos_m"].to_numpy()
    for i in np.flatnonzero(ok_a):
        ru, rv = d[row[int(au[i])]], d[row[int(av[i])]]
        best = np.minimum.reduce(
            [
                adu[i] + ru[bu] + bdu,
                adu[i] + ru[bv] + bdv,
                adv[i] + rv[bu] + bdu,
                adv[i] + rv[bv] + bdv,
            ]
        )
        same = bedge == aedge[i]
        best[same] = np.minimum(best[same], np.abs(bpos[same] - apos[i]))
        best[~ok_b] = np.nan
        best[np.isinf(best)] = np.nan
        out[i] = best / 1000.0
    return out


# --------------------------------------------------------------------------- helpers


def _require_projected(crs: object, what: str) -> None:
    if crs is None:
        raise CRSError(f"{what}: layer has no CRS; expected a projected metric CRS")
    if not getattr(crs, "is_projected", False):
        raise CRSError(
            f"{what}: expected a projected metric CRS for distances, found geographic {crs}"
        )


def _same_crs(crs: object, net_crs: object, what: str) -> None:
    if crs is None or net_crs is None or crs != net_crs:
        raise CRSError(f"{what}: CRS {crs} differs from the road network's CRS {net_crs}")


def _preference(road_class: np.ndarray, hardened: pd.Series) -> np.ndarray:
    rank = np.array([ROAD_CLASS_RANK.get(str(c), len(ROAD_CLASS_RANK)) for c in road_class])
    h = hardened.to_numpy(dtype=object)
    h_rank = np.array([0 if x is True else (2 if x is pd.NA else 1) for x in h])
    return h_rank * 100 + rank


def _join_near_misses(geoms: np.ndarray, tol: float) -> np.ndarray:
    """Extend road ends that stop within ``tol`` of another road's interior onto it.

    The end is pushed a millimetre past the other road so the noder sees a
    crossing; the tiny overshoot collapses into the junction node later.
    End-to-end near misses are left to endpoint merging.
    """
    tree = shapely.STRtree(geoms)
    out = geoms.copy()
    overshoot = min(1e-3, tol / 10.0)
    for end in (0, -1):
        ends = shapely.get_point(out, end)
        pairs = tree.query(ends, predicate="dwithin", distance=tol)
        if pairs.shape[1] == 0:
            continue
        best: dict[int, tuple[float, np.ndarray]] = {}
        for li, oi in zip(pairs[0], pairs[1], strict=True):
            if li == oi:
                continue
            other = geoms[oi]
            pos = other.project(ends[li])
            if pos <= tol or pos >= other.length - tol:
                continue  # near the other road's end: endpoint merging handles it
            target = other.interpolate(pos)
            d = ends[li].distance(target)
            if d == 0 or d > tol:
                continue
            if li not in best or d < best[li][0]:
                p = np.array(ends[li].coords[0])
                t = np.array(target.coords[0])
                best[li] = (d, t + (t - p) / d * overshoot)
        for li, (_, new_end) in best.items():
            c = shapely.get_coordinates(out[li])
            c = np.vstack([c, new_end]) if end == -1 else np.vstack([new_end, c])
            out[li] = LineString(c)
    return out


def _cluster_points(pts: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Label points so that points within ``tol`` (transitively) share a label."""
    tree = cKDTree(pts)
    pairs = tree.query_pairs(r=tol, output_type="ndarray")
    n = len(pts)
    adj = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
    _, lab = connected_components(adj, directed=False)
    counts = np.bincount(lab)
    centre = np.column_stack(
        [np.bincount(lab, weights=pts[:, 0]) / counts, np.bincount(lab, weights=pts[:, 1]) / counts]
    )
    # a single point keeps its exact coordinates
    single = counts[lab] == 1
    centre[lab[single]] = pts[single]
    return lab, centre


def _csgraph(
    n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, edge_id: np.ndarray
) -> tuple[sparse.csr_matrix, dict]:
    a = np.minimum(u, v)
    b = np.maximum(u, v)
    keep = a != b
    a, b, w, edge_id = a[keep], b[keep], w[keep], edge_id[keep]
    order = np.lexsort((w, b, a))
    a, b, w, edge_id = a[order], b[order], w[order], edge_id[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w, edge_id = a[first], b[first], w[first], edge_id[first]
    pair_edge = {(int(x), int(y)): int(e) for x, y, e in zip(a, b, edge_id, strict=True)}
    graph = sparse.coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    ).tocsr()
    return graph, pair_edge


def village_road_access(
    roads: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    *,
    towns: gpd.GeoDataFrame | None,
    snap_tolerance_m: float,
    max_snap_m: float,
    hardened_snap_m: float,
) -> tuple[RoadNetwork, pd.DataFrame]:
    """Build the road network and find each village's road access and unhardened gap
    (towards the county seat's hardened network when the towns layer has a county seat).

    Returns
    -------
    (network, gap)
        ``gap`` is indexed like ``villages`` (see :func:`unhardened_gap`).
    """
    net = build_network(roads, snap_tolerance_m=snap_tolerance_m)
    seat = None
    if towns is not None and (towns["kind"] == "county_seat").any():
        seat = towns[towns["kind"] == "county_seat"].geometry.representative_point().iloc[0]
    gap = unhardened_gap(
        net,
        villages,
        max_snap_m=max_snap_m,
        hardened_network_snap_m=hardened_snap_m,
        county_seat=seat,
    )
    gap.index = villages.index
    return net, gap
