/* The province page (dashboard/pages/province.py): counties and townships as choropleths.
   Each feature carries its class colour per metric (properties.colors, computed on the
   server); the hideout names the metric shown. An unknown figure has no colour and is drawn
   grey with a dashed outline, never as the lowest class. Tooltips are built as text nodes
   (names from the data are never markup). */
(function () {
  var SHOWN = {}; /* hideout key -> the hideout last drawn (the tooltips read the metric) */

  function fmt(v, metric, lang) {
    var loc = lang === "en" ? "en-US" : "zh-CN";
    if (metric === "ready_frac") { return (100 * v).toFixed(1) + "%"; }
    if (metric === "km_to_harden") {
      return Number(v).toLocaleString(loc, {maximumFractionDigits: 1});
    }
    return Number(v).toLocaleString(loc, {maximumFractionDigits: 0});
  }

  var prov = {
    style: function (feature, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      SHOWN[h.key || ""] = h;
      var c = (p.colors || {})[h.metric];
      var sel = h.selected !== undefined && h.selected !== null && p[h.selKey || "adcode"] === h.selected;
      if (c === null || c === undefined) {
        return {fillColor: h.unknown || "#BDBDBD", fillOpacity: 0.6, color: sel ? "#000000" : "#6E6E6E",
                weight: sel ? 3 : 1, dashArray: "4 3"};
      }
      return {fillColor: c, fillOpacity: 0.8, color: sel ? "#000000" : "#555555", weight: sel ? 3 : 1};
    },
    each: function (feature, layer, context) {
      var h0 = (context && context.hideout) || {};
      var key = h0.key || "";
      layer.bindTooltip(function () {
        var h = SHOWN[key] || h0;
        var p = feature.properties || {};
        var el = document.createElement("div");
        var b = document.createElement("b");
        b.textContent = String(p.name || "");
        el.appendChild(b);
        var line = document.createElement("div");
        var v = p[h.metric];
        var known = v !== null && v !== undefined;
        var none = h.metric === "ready_frac" && p.villages_assessed === 0;
        line.textContent = String((h.labels || {})[h.metric] || h.metric) + ": " +
          (known ? fmt(v, h.metric, h.lang) : String(none ? h.noneText : (h.unknownText || "?")));
        el.appendChild(line);
        return el;
      }, {sticky: true});
    }
  };
  window.anjuProvince = prov;
})();
