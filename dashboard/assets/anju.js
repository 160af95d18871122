/* anju dashboard: Leaflet style functions (read through dash-leaflet's "variable"
   references) and client-side callbacks. The filter restyle happens here, without a
   round trip to the server. */

/* Bundles a page does not use (dashboard/app.py, DEFERRABLE): the index page lists them in
   a JSON block instead of loading them. Before Dash moves to another page (a link's
   pushState event, the back and forward buttons), this loads them, in order, then lets the
   move go on; if one fails to load, the new address is loaded in full. */
(function () {
  "use strict";
  var block = document.getElementById("anju-deferred-scripts");
  if (!block) { return; }
  var srcs = [];
  try { srcs = JSON.parse(block.textContent) || []; } catch (e) { srcs = []; }
  if (!srcs.length) { return; }
  var loading = null, ready = false, passing = false;
  function loadOne(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.async = false;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }
  function load() {
    if (!loading) {
      loading = srcs.reduce(function (p, src) {
        return p.then(function () { return loadOne(src); });
      }, Promise.resolve()).then(function () { ready = true; });
    }
    return loading;
  }
  function hold(e) {
    if (ready || passing) { return; }
    e.stopImmediatePropagation();
    var again = e.type === "popstate" ?
      function () { return new PopStateEvent("popstate", {state: e.state}); } :
      function () { return new CustomEvent(e.type); };
    load().then(function () {
      passing = true;
      try { window.dispatchEvent(again()); } finally { passing = false; }
    }, function () { window.location.reload(); });
  }
  window.addEventListener("_dashprivate_pushstate", hold, true);
  window.addEventListener("popstate", hold, true);
  window.anjuDeferred = {load: load, pending: function () { return !ready; }};
})();
/* Leaflet 1.9 ends a zoom or pan animation on a timer; when Dash removes the map before it
   fires (a link clicked while the map still zooms to the county), the timer reads the
   removed map pane and throws "Cannot read properties of undefined (reading
   '_leaflet_pos')" (Leaflet issue #9575). A removed map has no pane: its position is taken
   as the origin, and the late animation ends on a map nobody sees. */
(function () {
  "use strict";
  function patch() {
    var L = window.L;
    if (!L || !L.Map || L.Map.prototype._anjuRemovedSafe) { return !!(L && L.Map); }
    var panePos = L.Map.prototype._getMapPanePos;
    L.Map.prototype._getMapPanePos = function () {
      return this._mapPane ? panePos.call(this) : L.point(0, 0);
    };
    L.Map.prototype._anjuRemovedSafe = true;
    return true;
  }
  if (!patch()) { window.addEventListener("load", patch); }
})();
(function () {
  "use strict";

  function villageCode(p, h) {
    var st = p.st || "";
    return st.charAt(h.idx || 0) || "u";
  }

  function villageOn(p, h) {
    return (!h.township || p.tw === h.township) &&
      (!h.status || villageCode(p, h) === h.status);
  }

  /* a colour for an inline style: "#rgb", "#rrggbb(aa)" or a plain colour name only, so a
     value from the page never reaches markup as anything but a colour */
  function safeColour(c, fallback) {
    c = String(c === null || c === undefined ? "" : c);
    return /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$/.test(c) ? c : fallback;
  }

  /* the coverage map's village layers by component id: {map, layers: {vid: layer}} (see
     villageEach and restyleVillages) */
  var VILLAGE_LAYERS = {};
  function styleKey(s) {
    return [s.color, s.weight, s.dashArray, s.opacity, s.fillColor, s.fillOpacity,
            s.radius].join("|");
  }

  var anju = {
    safeColour: safeColour,
    /* status codes (dashboard/viewmodels.py): m met / ready, i met only by inference /
       unconfirmed, n not met / blocked, u unknown, x not assessed (exit view only) */
    villageStyle: function (feature, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var code = villageCode(p, h);
      var on = villageOn(p, h);
      var sel = h.selected && p.vid === h.selected;
      var colors = h.colors || {m: "#0072B2", i: "#AA4499", n: "#E69F00", u: "#9E9E9E", x: "#E4E4E4"};
      /* the blocker view: the fill says what blocks the village (mb), the filter still
         works on the exit statuses */
      var fill = (h.blocker && p.mb && h.bcolors && h.bcolors[p.mb]) || colors[code] || "#9E9E9E";
      /* the exit rule does not apply: a small pale circle with a dashed grey ring */
      var skip = code === "x";
      var ring = skip ? "#6E6E6E" : (on ? "#ffffff" : fill);
      return {
        color: sel ? "#000000" : ring,
        weight: sel ? 4 : (skip ? 1.5 : 1),
        dashArray: (skip && !sel) ? "2 2" : null,
        opacity: (on || sel) ? 1 : 0.35,
        fillColor: fill,
        fillOpacity: (on || sel) ? 0.95 : 0.15,
        radius: sel ? 10 : (on ? (skip ? 4.5 : 6) : 3.5)
      };
    },
    villagePoint: function (feature, latlng, context) {
      /* the villages pane (z 620) keeps villages above clinics, schools and towns */
      var pane = ((context && context.hideout) || {}).pane || "overlayPane";
      return L.circleMarker(latlng, {radius: 6, pane: pane});
    },
    roadStyle: function (feature, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var s = p.h || "unknown";
      var major = {national: 4, provincial: 3.5, county: 3, township: 2.5};
      var colors = h.colors || {};
      return {
        /* a surface inferred from the road class: its own colour, the dash says which */
        color: (p.inf ? colors.inferred : colors[s]) || "#888888",
        weight: major[p.cls] || 1.8,
        opacity: 0.9,
        dashArray: s === "unhardened" ? "6 4" : (s === "unknown" ? "2 4" : null)
      };
    },
    poiPoint: function (feature, latlng, context) {
      var h = (context && context.hideout) || {};
      var r = Number(h.radius) || 5;
      var col = safeColour(h.color, "#333");
      var opts = {color: "#ffffff", weight: 1, fillColor: col, fillOpacity: 1};
      if (h.shape === "square" || h.shape === "triangle") {
        var cls = "poi poi-" + h.shape;
        var html = '<div style="width:' + (2 * r) + 'px;height:' + (2 * r) +
          'px;background:' + col + '"></div>';
        if (h.shape === "triangle") {
          html = '<div style="width:0;height:0;border-left:' + r + 'px solid transparent;' +
            'border-right:' + r + 'px solid transparent;border-bottom:' + (2 * r) +
            'px solid ' + col + '"></div>';
        }
        return L.marker(latlng, {icon: L.divIcon({className: cls, html: html,
          iconSize: [2 * r, 2 * r], iconAnchor: [r, r]})});
      }
      opts.radius = r;
      return L.circleMarker(latlng, opts);
    },
    /* resettlement sites: planner sites as diamonds, generated ones as circles; filled
       when opened, hollow (dashed) when not opened */
    sitePoint: function (feature, latlng, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var opened = !!h.opened;
      var stroke = safeColour(h.color, "#009E73");
      var fill = opened ? stroke : "#ffffff";
      if (p.src === "planner") {
        var s = 13;
        var html = '<div style="width:' + s + 'px;height:' + s + 'px;transform:rotate(45deg);' +
          'box-sizing:border-box;background:' + fill + ';border:2px ' + (opened ? 'solid #1b1b1b' : 'dashed ' + stroke) + '"></div>';
        return L.marker(latlng, {icon: L.divIcon({className: "poi site-planner", html: html,
          iconSize: [s, s], iconAnchor: [s / 2, s / 2]})});
      }
      return L.circleMarker(latlng, {radius: 6, color: opened ? "#1b1b1b" : stroke,
        weight: opened ? 1.5 : 2, dashArray: opened ? null : "3 2", fillColor: fill,
        fillOpacity: 1});
    },
    /* relocation candidates: p.b = 1 moves by a decisive rule below the score threshold
       (dark ring), p.u = 1 is not placed (dark red, larger) */
    candPoint: function (feature, latlng, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var r = h.radius || 5;
      if (p.u) {
        return L.circleMarker(latlng, {radius: r + 3, color: "#ffffff", weight: 2,
          fillColor: h.unplaced || "#A50026", fillOpacity: 1});
      }
      return L.circleMarker(latlng, {radius: p.b ? r + 1 : r,
        color: p.b ? (h.ring || "#1b1b1b") : "#ffffff", weight: p.b ? 2.5 : 1,
        fillColor: h.color || "#D55E00", fillOpacity: 1});
    },
    radiusPoint: function (feature, latlng) {
      var r = (feature.properties || {}).r;
      if (r) { return L.circle(latlng, {radius: r}); }
      return L.circleMarker(latlng, {radius: 4});
    },
    hideoutStyle: function (feature, context) {
      return (context && context.hideout) || {};
    },
    /* value label of a scenario slider; mirrors dashboard.scenario.format_param */
    paramLabel: function (drag, value, fmts, id) {
      var v = (drag === null || drag === undefined) ? value : drag;
      if (Array.isArray(v)) { v = v[0]; }
      var f = (fmts || {})[(id || {}).name] || {digits: 0, suffix: ""};
      if (v === null || v === undefined || isNaN(Number(v))) { return "—"; }
      v = Number(v);
      if (f.zero !== null && f.zero !== undefined && v === 0) { return f.zero; }
      if (f.pct) { return (100 * v).toFixed(f.digits) + "%"; }
      return v.toFixed(f.digits) + (f.suffix || "");
    },
    /* the progress page: a village's state in the year shown (mirrors
       dashboard/progress.py year_states) */
    progressState: function (p, year) {
      var cs = p.cs || "unknown";
      if (cs === "not_assessed") { return "not_assessed"; }
      if (p.ey !== null && p.ey !== undefined && p.ey <= year) { return "exited"; }
      if (p.py === null || p.py === undefined) { return "not_planned"; }
      return p.py <= year ? cs : "later";
    },
    progressPoint: function (feature, latlng, context) {
      var h = (context && context.hideout) || {};
      var pane = h.pane || "overlayPane";
      return L.circleMarker(latlng, {radius: 6, pane: pane});
    },
    progressStyle: function (feature, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var s = window.anju.progressState(p, h.year || 0);
      var c = (h.colors || {})[s] || "#9E9E9E";
      if (s === "exited") {  /* struck off: a faded grey ring, dotted */
        return {color: "#555555", weight: 1.5, dashArray: "1 3", fillColor: c,
                fillOpacity: 0.15, radius: 4.5, opacity: 0.9};
      }
      if (s === "not_assessed" || s === "not_planned") {
        return {color: "#6E6E6E", weight: 1, dashArray: "2 2", fillColor: c,
                fillOpacity: 0.8, radius: 3.5, opacity: 0.8};
      }
      return {color: "#ffffff", weight: 1, fillColor: c, fillOpacity: 0.95,
              radius: s === "at_risk" ? 7 : 6, opacity: 1};
    },
    /* a map label (township or village name) as text, never markup; township labels show
       from zoom 9, village labels from zoom 12 (classes on the map container, see CSS) */
    labelPoint: function (feature, latlng, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var el = document.createElement("span");
      el.textContent = String(p.label || p.name || "");
      var m = L.marker(latlng, {
        icon: L.divIcon({className: "map-label " + (h.cls || ""), html: el, iconSize: null}),
        interactive: false,
        keyboard: false
      });
      m.on("add", function (e) {
        var map = e.target._map;
        if (!map || map._anjuZoomClasses) { return; }
        map._anjuZoomClasses = true;
        var mark = function () {
          var z = map.getZoom(), c = map.getContainer();
          for (var k = 8; k <= 15; k++) { c.classList.toggle("anju-z" + k, z >= k); }
        };
        map.on("zoomend", mark);
        mark();
      });
      return m;
    },
    /* the coverage villages: the label, and each village's layer kept by vid so that the
       filter restyles the layers in place. A new hideout makes dash-leaflet remove and
       rebuild every layer (markers, tooltips: about 100 ms for 1,000 villages); setStyle
       on the layers whose style changes is a few milliseconds. */
    villageEach: function (feature, layer, context) {
      window.anju.bindLabel(feature, layer);
      var id = (context && context.id) || "";
      var map = (context && context.map) || null;
      var reg = VILLAGE_LAYERS[id];
      if (!reg || reg.map !== map) { reg = VILLAGE_LAYERS[id] = {map: map, layers: {}}; }
      var p = feature.properties || {};
      reg.layers[p.vid !== undefined && p.vid !== null ? p.vid : p.id] = layer;
      /* the style dash-leaflet gave it (from the hideout it was drawn with) */
      layer._anjuStyle = styleKey(window.anju.villageStyle(feature, context));
    },
    /* restyle the villages of component `id` for hideout `h`; false when its layers are
       not on the page (the caller then sends the hideout, and dash-leaflet redraws) */
    restyleVillages: function (id, h) {
      var reg = VILLAGE_LAYERS[id];
      var map = reg && reg.map;
      if (!map || !map.getContainer || !document.body.contains(map.getContainer())) {
        return false;
      }
      var ctx = {hideout: h};
      var layers = reg.layers;
      for (var k in layers) {
        if (!Object.prototype.hasOwnProperty.call(layers, k)) { continue; }
        var layer = layers[k];
        var s = window.anju.villageStyle(layer.feature, ctx);
        var key = styleKey(s);
        if (layer._anjuStyle === key) { continue; }
        layer._anjuStyle = key;
        layer.setStyle(s);
        if (h.selected !== undefined && layer.feature.properties &&
            layer.feature.properties.vid === h.selected && layer.bringToFront) {
          layer.bringToFront();  /* the ring of the chosen village on top of its neighbours */
        }
      }
      return true;
    },
    /* names and reasons come from the data: shown as text, never parsed as markup */
    bindLabel: function (feature, layer) {
      var p = feature.properties || {};
      var label = p.label || p.name;
      if (label) {
        var el = document.createElement("span");
        el.textContent = String(label);
        layer.bindTooltip(el);
      }
    }
  };
  window.anju = Object.assign({}, window.anju || {}, anju);

  var CODE_NAMES = {m: "met", i: "met_inferred", n: "not_met", u: "unknown", x: "not_assessed"};

  /* mirrors viewmodels.counts_text */
  function countText(m, c, view) {
    var head = (m.head || "{n}").replace("{n}", c.n);
    if (c.n !== c.total) { head += (m.of || "").replace("{total}", c.total); }
    var labels = (m.labels || {})[view] || {};
    var items = Object.keys(labels).map(function (code) {
      return (m.item || "{label} {count}").replace("{label}", labels[code])
        .replace("{count}", c[CODE_NAMES[code]]);
    });
    return head + (m.sep || ": ") + items.join(m.join || ", ");
  }

  /* the legend follows the map: a row or ramp tagged data-layer="<overlay name>" shows
     only while that overlay is checked in the map's layer control */
  function syncLegends() {
    var frames = document.querySelectorAll(".map-frame");
    for (var f = 0; f < frames.length; f++) {
      var frame = frames[f];
      var on = {};
      var labels = frame.querySelectorAll(".leaflet-control-layers-overlays label");
      for (var i = 0; i < labels.length; i++) {
        var inp = labels[i].querySelector("input");
        on[labels[i].textContent.trim()] = !!(inp && inp.checked);
      }
      var rows = frame.querySelectorAll("[data-layer]");
      for (var j = 0; j < rows.length; j++) {
        var name = rows[j].getAttribute("data-layer");
        var show = Object.prototype.hasOwnProperty.call(on, name) ? on[name] : false;
        rows[j].style.display = show ? "" : "none";
      }
    }
  }
  var syncTimer = null;
  function syncSoon() {
    if (syncTimer) { return; }
    syncTimer = setTimeout(function () { syncTimer = null; syncLegends(); }, 120);
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.closest && e.target.closest(".leaflet-control-layers")) { syncSoon(); }
  });
  if (window.MutationObserver) {
    new MutationObserver(function (muts) {
      for (var k = 0; k < muts.length; k++) {
        var t = muts[k].target;
        if (t && t.closest && (t.closest(".leaflet-control-layers") || t.closest(".legend") ||
            t.classList && t.classList.contains("map-frame"))) { syncSoon(); return; }
        if (muts[k].addedNodes && muts[k].addedNodes.length && t === document.body) { syncSoon(); return; }
      }
    }).observe(document.documentElement, {childList: true, subtree: true});
  }
  window.anju = Object.assign({}, window.anju || {}, {syncLegends: syncLegends});

  window.dash_clientside = Object.assign({}, window.dash_clientside || {}, {
    anju: {
      /* filters -> [hideout, counts text]; mirrors viewmodels.filter_counts */
      filter: function (township, indicator, status, meta, data, hideout, click) {
        meta = meta || {};
        var keys = meta.keys || ["exit_ready"];
        var blocker = indicator === "main_blocker";
        var idx = blocker ? 0 : Math.max(0, keys.indexOf(indicator || "exit_ready"));
        var codes = {met: "m", met_inferred: "i", not_met: "n", unknown: "u", not_assessed: "x"};
        var h = Object.assign({}, hideout || {}, {
          idx: idx, blocker: blocker, township: township || "", status: codes[status] || ""
        });
        var bcodes = meta.bcodes || [];
        var bc = {};
        bcodes.forEach(function (k) { bc[k] = 0; });
        var cp = (click && click.properties) || null;
        if (cp && cp.vid !== undefined && cp.vid !== null) { h.selected = cp.vid; }
        var c = {n: 0, total: 0, met: 0, met_inferred: 0, not_met: 0, unknown: 0, not_assessed: 0};
        var feats = (data && data.features) || [];
        for (var i = 0; i < feats.length; i++) {
          var p = feats[i].properties || {};
          if (h.township && p.tw !== h.township) { continue; }
          var code = (p.st || "").charAt(idx) || "u";
          if (!CODE_NAMES[code]) { code = "u"; }
          c.total++;
          c[CODE_NAMES[code]]++;
          if (!h.status || code === h.status) { c.n++; }
          if (p.mb && bc[p.mb] !== undefined) { bc[p.mb]++; }
        }
        /* in place when the layers are on the page: the hideout prop stays as it was, so
           dash-leaflet does not rebuild them */
        var out = window.anju.restyleVillages(meta.layer || "", h) ?
          window.dash_clientside.no_update : h;
        return [out, countText(meta.counts || {}, c, idx === 0 ? "exit" : "indicator"),
                bcodes.map(function (k) { return String(bc[k]); })];
      },
      /* a selected table row (with _lat/_lon) -> the map flies there (the row last
         selected wins: the one that triggered the callback) */
      flyToRow: function (cands, sites) {
        var trig = (window.dash_clientside.callback_context.triggered || [])[0] || {};
        var rows = String(trig.prop_id || "").indexOf("sites") >= 0 ? sites : cands;
        var r = (rows && rows[0]) || null;
        if (!r || r._lat == null || r._lon == null) { return window.dash_clientside.no_update; }
        return {center: [r._lat, r._lon], zoom: 14, transition: "flyTo"};
      },
      /* a village or site clicked on the relocation map -> its row selected and shown */
      selectFromMap: function (cand, siteOpen, siteIdle, ptOpen, ptIdle) {
        var nu = window.dash_clientside.no_update;
        var trig = (window.dash_clientside.callback_context.triggered || [])[0] || {};
        var id = String(trig.prop_id || "");
        var data = (trig.value && trig.value.properties) || {};
        if (id.indexOf("reloc-cands") === 0 && data.vid) {
          return [{ids: [String(data.vid)]}, {rowId: String(data.vid)}, nu, nu, "cands"];
        }
        if (data.sid) {
          return [nu, nu, {ids: [String(data.sid)]}, {rowId: String(data.sid)}, "sites"];
        }
        return [nu, nu, nu, nu, nu];
      },
      /* the progress page's year -> [hideout, the legend's counts in YEAR_STATES order] */
      progressYear: function (year, hideout, data) {
        var h = Object.assign({}, hideout || {}, {year: year});
        var order = h.states || [];
        var c = {};
        order.forEach(function (s) { c[s] = 0; });
        var feats = (data && data.features) || [];
        for (var i = 0; i < feats.length; i++) {
          var s = window.anju.progressState(feats[i].properties || {}, year);
          if (c[s] !== undefined) { c[s]++; }
        }
        return [h, order.map(function (s) { return String(c[s]); })];
      },
      /* township -> the map's viewport (all: the county) */
      zoomTo: function (township, meta) {
        meta = meta || {};
        var b = (township && (meta.tw_bounds || {})[township]) || meta.bounds;
        if (!b) { return window.dash_clientside.no_update; }
        return {bounds: b, transition: "flyToBounds"};
      },
      /* indicator -> the status filter's options and the legend rows of that view */
      statusView: function (indicator, meta, status) {
        meta = meta || {};
        var ind = indicator || "exit_ready";
        var blocker = ind === "main_blocker";
        var view = (ind === "exit_ready" || blocker) ? "exit" : "indicator";
        var opts = (meta.options || {})[view] || [];
        var keep = opts.some(function (o) { return o.value === status; });
        var show = {display: ""}, hide = {display: "none"};
        return [opts, keep ? status : "", blocker ? show : hide,
                (view === "exit" && !blocker) ? show : hide,
                view === "exit" ? hide : show];
      },
      opacity: function (value, ids) {
        return (ids || []).map(function () { return value; });
      },
      toggleLang: function (n, lang) {
        if (!n) { return window.dash_clientside.no_update; }
        var next = lang === "en" ? "zh" : "en";
        document.cookie = "anju_lang=" + next + ";path=/;max-age=31536000;SameSite=Lax";
        window.location.reload();
        return next;
      }
    }
  });
})();
