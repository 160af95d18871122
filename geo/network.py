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

Road surfaces carry their evidence: ``hardened`` is True / False / unknown and
``hardened_inferred`` says the value was taken from the road class (layers.validate)
rather than recorded. Unknown is never hardened, and a village whose hardened access
rests on an inferred surface says so (``road_evidence == "inferred"``).
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

from layers.errors import CRSError, LayerSchemaError, PolicyError
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
        ``hardened`` (pandas nullable boolean, <NA> = unknown),
        ``hardened_inferred`` (bool: the ``hardened`` value was inferred from the
        road class, not recorded), geometry.
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
        (True / False / <NA> or None = unknown) and optionally ``surface`` and
        ``hardened_inferred`` (True where ``hardened`` was inferred from the road
        class; an absent column means every value was recorded; a blank flag on a
        known ``hardened`` value is read as inferred, since it cannot be shown
        as recorded).
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
    inferred = _inferred_flags(parts, hardened)
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
                "hardened_inferred": pd.Series([], dtype=bool),
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
            "hardened_inferred": inferred[src],
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


def main_hardened_nodes(
    net: RoadNetwork, *, county_seat: object | None = None, seat_radius_m: float = 0.0
) -> np.ndarray:
    """Nodes of the main hardened network.

    The main network is anchored on roads picked without asking whether they are
    hardened, so that a road whose surface becomes unknown can only shrink the main
    network, never move it to another part of the county:

    * with ``county_seat``: the roads not known to be unhardened (hardened or of
      unknown surface) within ``seat_radius_m`` of the seat, or the nearest such
      road when none is that close;
    * otherwise: the roads of the highest class (:data:`ROAD_CLASS_RANK`) among
      those not known to be unhardened.

    The main network is the union of the hardened connected components that hold a
    hardened anchor road. An anchor of unknown surface adds nothing; when every
    anchor is of unknown surface the main network is unknown and the result is
    empty (:func:`unhardened_gap` then reports villages as ``"unknown"``).

    Parameters
    ----------
    net : RoadNetwork
    county_seat : shapely Point, optional
        The county seat in the network CRS.
    seat_radius_m : float, default 0.0
        Roads this close to the seat all anchor the main network.

    Returns
    -------
    numpy.ndarray
        Sorted node indices (empty if no anchor road is known to be hardened).
    """
    return _main_network(net, county_seat=county_seat, seat_radius_m=seat_radius_m)[0]


def unhardened_gap(
    net: RoadNetwork,
    villages_gdf: gpd.GeoDataFrame,
    *,
    max_snap_m: float,
    hardened_network_snap_m: float,
    connection_max_m: float,
    county_seat: object | None = None,
    tie_weight: float = 1e-6,
) -> gpd.GeoDataFrame:
    """Classify each village's road access and list the road sections to harden.

    Every village is snapped to its nearest road edge; ``road_snap_m`` is that
    distance. A village within ``connection_max_m`` of the road is *connected* to
    it; a village farther away is not, whatever the road is: the connection must be
    built (``connection_km``) and the village can never be ``"hardened"``. Then:

    * ``"no_road"``: no road within ``max_snap_m``.
    * ``"hardened"``: a connected village that reaches the main hardened network
      (see :func:`main_hardened_nodes`; the county seat's roads within
      ``hardened_network_snap_m`` anchor it) over hardened edges only; this
      includes a village snapped onto a main-network edge and a village within
      ``hardened_network_snap_m`` (and ``connection_max_m``) of a main-network edge
      even when another road is nearer. A hardened stub not connected to the main
      network does not count.
    * otherwise the cheapest path from the nearest road to the roads anchoring the
      main network is found, minimising the length of not-known-hardened road
      (unhardened plus unknown surface), ties broken by total length (weight
      ``nonhard_m + tie_weight * length_m``). ``"unknown"`` when the only
      not-hardened roads on that path are of unknown surface (they may well be
      hardened); ``"gap"`` as soon as the path has known unhardened km (whatever
      the unknown parts turn out to be) or the village is not connected.
      A village whose road does not connect to the main network at all is a
      ``"gap"`` with NaN ``unhardened_km`` (a new road is needed, not hardening).
    * when the main network itself is unknown (every road anchoring it is of
      unknown surface), connected villages are ``"unknown"`` (NaN km) and the
      others ``"gap"``.

    Making a road's surface unknown never turns a village into ``"hardened"``: the
    main network's anchor is chosen without looking at surfaces (see
    :func:`main_hardened_nodes`), so it can only shrink.

    Parameters
    ----------
    net : RoadNetwork
    villages_gdf : geopandas.GeoDataFrame
        Village points or polygons in the network CRS.
    max_snap_m : float
        Farthest a village may be from a road to be served by it.
    hardened_network_snap_m : float
        A connected village this close to the main hardened network counts as
        hardened; roads this close to the county seat anchor the main network.
    connection_max_m : float
        A village farther than this from its nearest road is not connected to it
        (the profile's ``[road] connection_max_m``).
    county_seat : shapely Point, optional
        Anchors the main hardened network; default the highest-class roads.
    tie_weight : float, default 1e-6
        Weight of total length in the path cost (tiebreak); lowered when needed so
        that the total length of the network weighs less than a millimetre of
        not-hardened road.

    Returns
    -------
    geopandas.GeoDataFrame
        Copy of ``villages_gdf`` with

        - ``road_snap_m``: distance to the nearest road, even beyond ``max_snap_m``
          (NaN without roads or geometry);
        - ``road_access``: ``hardened`` | ``gap`` | ``unknown`` | ``no_road``;
        - ``unhardened_km``: known-unhardened length on the path, the village's own
          edge counted from the village's position only (NaN without a path);
        - ``unknown_surface_km``: length of unknown surface on the path;
        - ``connection_km``: ``road_snap_m / 1000`` for a village farther than
          ``connection_max_m`` from its nearest road (``no_road`` villages
          included), else 0.0; NaN when ``road_snap_m`` is;
        - ``inferred_km``: length on the path (from the village to the nearest end
          of a road anchoring the main network, through the main network itself;
          the anchor roads are not counted) of edges whose ``hardened`` value was
          inferred from the road class (whatever it was inferred to be); NaN
          without a path;
        - ``road_evidence``, the quality of the evidence behind ``road_access``:
          ``"missing"`` for ``no_road`` and ``unknown``; for ``hardened``,
          ``"inferred"`` when ``inferred_km > 0`` (the claim rests on a surface
          taken from a road class), else ``"measured"``; for ``gap``,
          ``"measured"`` when the gap stands on measured facts alone (a connection
          to build, no road link to the main network, or a recorded unhardened
          section on the path) and ``"inferred"`` when every known-unhardened
          section on the path was inferred (e.g. a track taken as unpaved);
        - ``gap_edge_ids``: list of ``edge_id`` on the path that are not known to be
          hardened (the sections to harden or survey; a connection to build is not
          an edge and is given by ``connection_km``).

    Raises
    ------
    CRSError
        If the villages' CRS differs from the network's.
    PolicyError
        If ``connection_max_m`` is negative or not a number.
    """
    _same_crs(villages_gdf.crs, net.crs, "villages")
    if not connection_max_m >= 0:  # also refuses NaN
        raise PolicyError(
            f"road.connection_max_m: expected a distance >= 0, found {connection_max_m}"
        )
    out = villages_gdf.copy()
    n = len(out)
    access = np.full(n, "no_road", dtype=object)
    evidence = np.full(n, "missing", dtype=object)
    unhard_km = np.full(n, np.nan)
    unknown_km = np.full(n, np.nan)
    inferred_km = np.full(n, np.nan)
    gap_ids: list[list[int]] = [[] for _ in range(n)]

    nearest = snap_points(net, villages_gdf)
    snap = nearest["snap_dist_m"].to_numpy(float)
    out["road_snap_m"] = snap
    with np.errstate(invalid="ignore"):
        snapped = snap <= max_snap_m
        connected = snap <= connection_max_m

    e = net.edges
    known_hard = e["hardened"].fillna(False).to_numpy(bool)
    unknown = e["hardened"].isna().to_numpy()
    inferred_e = (
        e["hardened_inferred"].to_numpy(bool)
        if "hardened_inferred" in e.columns
        else np.zeros(len(e), dtype=bool)
    )
    known_unhard = ~known_hard & ~unknown
    length = e["length_m"].to_numpy(float)
    nonhard = np.where(known_hard, 0.0, length)
    # the tiebreak must never outweigh a millimetre of not-hardened road, even on a
    # path across the whole network
    tie = min(float(tie_weight), 1e-3 / max(float(length.sum()), 1.0))
    w = nonhard + tie * length
    row_of = pd.Series(np.arange(len(e)), index=e["edge_id"].to_numpy())

    main_nodes, anchor_nodes, main_unknown = _main_network(
        net, county_seat=county_seat, seat_radius_m=hardened_network_snap_m
    )
    near_main = np.zeros(n, dtype=bool)
    near_row = np.full(n, -1, dtype=np.int64)  # the main edge a village beside it joins
    near_pos = np.full(n, np.nan)  # ... and where along it (m from its u end)
    if len(anchor_nodes):
        # paths run to the roads anchoring the main network (not merely to its nearest
        # node), so the inferred surfaces they cross on the way are seen
        graph, pair_edge = net.csgraph(w)
        dist, pred, _ = dijkstra(
            graph, directed=False, indices=anchor_nodes, return_predecessors=True, min_only=True
        )
        in_main = np.zeros(net.n_nodes, dtype=bool)
        in_main[main_nodes] = True
        main_edge = known_hard & in_main[e["u"].to_numpy()] & in_main[e["v"].to_numpy()]
        # joining the main network directly is a connection too: never farther than
        # connection_max_m
        reach = min(float(hardened_network_snap_m), float(connection_max_m))
        if main_edge.any() and reach > 0:
            main_rows = np.flatnonzero(main_edge)
            tree = shapely.STRtree(e.geometry.to_numpy()[main_rows])
            geoms = villages_gdf.geometry.to_numpy()
            (pi, ei), _ = tree.query_nearest(
                geoms, max_distance=reach, return_distance=True, all_matches=False
            )
            near_main[pi] = True
            near_row[pi] = main_rows[ei]
            eg = e.geometry.to_numpy()[main_rows[ei]]
            on = shapely.get_point(shapely.shortest_line(eg, geoms[pi]), 0)
            near_pos[pi] = shapely.line_locate_point(eg, on)
    else:
        dist = np.full(net.n_nodes, np.inf)
        pred = np.full(net.n_nodes, -9999)
        pair_edge = {}
        main_edge = np.zeros(len(e), dtype=bool)

    eid_arr = nearest["edge_id"].to_numpy()
    du_arr = nearest["dist_to_u_m"].to_numpy(float)
    dv_arr = nearest["dist_to_v_m"].to_numpy(float)
    eu, ev = e["u"].to_numpy(), e["v"].to_numpy()
    for k in np.flatnonzero(snapped):
        r = int(row_of[eid_arr[k]])
        du, dv = du_arr[k], dv_arr[k]
        if connected[k] and near_main[k] and not main_edge[r]:
            # beside the main network though another road is nearer: it joins the main edge
            r = int(near_row[k])
            du, dv = near_pos[k], max(length[r] - near_pos[k], 0.0)
        if main_unknown:
            # the roads anchoring the main network are of unknown surface
            access[k] = "unknown" if connected[k] else "gap"
            evidence[k] = "missing" if connected[k] else "measured"
            continue
        u, v = int(eu[r]), int(ev[r])
        frac_w = w[r] / length[r] if length[r] > 0 else 0.0
        cu = dist[u] + du * frac_w
        cv = dist[v] + dv * frac_w
        if not np.isfinite(min(cu, cv)):
            # not connected to the main hardened network by any road: geometry says so
            access[k], evidence[k] = "gap", "measured"
            continue
        node, part = (u, du) if cu <= cv else (v, dv)
        path = [(r, part)]
        while pred[node] >= 0:
            p = int(pred[node])
            key = (min(node, p), max(node, p))
            pr = int(row_of[pair_edge[key]])
            path.append((pr, length[pr]))
            node = p
        unh = sum(ln for pr, ln in path if known_unhard[pr])
        unk = sum(ln for pr, ln in path if unknown[pr])
        unhard_km[k], unknown_km[k] = unh / 1000.0, unk / 1000.0
        inferred_km[k] = sum(ln for pr, ln in path if inferred_e[pr]) / 1000.0
        ids = [int(e["edge_id"].iat[pr]) for pr, ln in path if not known_hard[pr] and ln > 0]
        gap_ids[k] = list(dict.fromkeys(ids))
        measured_unh = any(ln > 0 and known_unhard[pr] and not inferred_e[pr] for pr, ln in path)
        if not connected[k]:
            access[k], evidence[k] = "gap", "measured"  # the connection is missing
        elif unh + unk <= 1e-9:
            access[k] = "hardened"
            evidence[k] = "inferred" if inferred_km[k] > 0 else "measured"
        elif unh <= 1e-9:
            # only unknown surfaces stand between it and the network
            access[k], evidence[k] = "unknown", "missing"
        else:
            # known unhardened km on the way, whatever the unknown parts are; the gap
            # is inferred only when every known-unhardened section was inferred
            access[k] = "gap"
            evidence[k] = "measured" if measured_unh else "inferred"

    with np.errstate(invalid="ignore"):
        conn_km = np.where(snap > connection_max_m, snap / 1000.0, 0.0)
    conn_km[np.isnan(snap)] = np.nan

    out["road_access"] = access
    out["unhardened_km"] = unhard_km
    out["unknown_surface_km"] = unknown_km
    out["connection_km"] = conn_km
    out["inferred_km"] = inferred_km
    out["road_evidence"] = evidence
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


def _inferred_flags(parts: pd.DataFrame, hardened: pd.Series) -> np.ndarray:
    """``hardened_inferred`` per road part: True where the surface was inferred.

    An absent column means every surface was recorded. A blank flag on a known
    ``hardened`` value is read as inferred: nothing shows it was recorded. An
    unknown ``hardened`` value was inferred to nothing, so its flag is False.
    """
    if "hardened_inferred" not in parts.columns:
        return np.zeros(len(parts), dtype=bool)
    flag = to_tristate(parts["hardened_inferred"], where="roads.hardened_inferred")
    return (flag.isna() | flag.fillna(False)).to_numpy(bool) & hardened.notna().to_numpy(bool)


def _main_network(
    net: RoadNetwork, *, county_seat: object | None, seat_radius_m: float
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Main hardened nodes (see :func:`main_hardened_nodes`), the end nodes of its
    hardened anchor roads, and whether the main network is unknown (every anchor road
    is of unknown surface)."""
    e = net.edges
    empty = np.empty(0, dtype=np.int64)
    hard = e["hardened"].fillna(False).to_numpy(bool)
    possible = hard | e["hardened"].isna().to_numpy(bool)
    if not possible.any():
        return empty, empty, False  # every road is known unhardened: no hardened network
    cand = np.flatnonzero(possible)
    if county_seat is not None and not shapely.is_empty(county_seat):
        d = shapely.distance(e.geometry.to_numpy()[cand], county_seat)
        anchor = cand[d <= max(float(seat_radius_m), float(np.min(d)))]
    else:
        rank = np.array(
            [
                ROAD_CLASS_RANK.get(str(c), len(ROAD_CLASS_RANK))
                for c in e["road_class"].to_numpy()[cand]
            ]
        )
        anchor = cand[rank == rank.min()]
    anchor = anchor[hard[anchor]]
    if anchor.size == 0:
        return empty, empty, True
    hard_net = hardened_subgraph(net)
    graph, _ = hard_net.csgraph()
    _, comp = connected_components(graph, directed=False)
    main = np.unique(comp[e["u"].to_numpy()[anchor]])
    touched = np.zeros(net.n_nodes, dtype=bool)
    touched[hard_net.edges["u"].to_numpy()] = True
    touched[hard_net.edges["v"].to_numpy()] = True
    anchor_nodes = np.unique(np.concatenate([e["u"].to_numpy()[anchor], e["v"].to_numpy()[anchor]]))
    return np.flatnonzero(touched & np.isin(comp, main)), anchor_nodes, False


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
    connection_max_m: float,
) -> tuple[RoadNetwork, pd.DataFrame]:
    """Build the road network and find each village's road access and unhardened gap
    (towards the county seat's hardened network when the towns layer has a county seat).

    Parameters
    ----------
    roads, villages : geopandas.GeoDataFrame
        Validated layers in the workspace's metric CRS.
    towns : geopandas.GeoDataFrame or None
        With ``kind``; a ``"county_seat"`` row anchors the main hardened network.
    snap_tolerance_m : float
        Road ends closer than this are joined (:func:`build_network`).
    max_snap_m, hardened_snap_m, connection_max_m : float
        ``max_snap_m``, ``hardened_network_snap_m`` and ``connection_max_m`` of
        :func:`unhardened_gap`.

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
        connection_max_m=connection_max_m,
        county_seat=seat,
    )
    gap.index = villages.index
    return net, gap
