/* anju bureau pages (transport, water, health): the road-gap style. Loaded with
   anju.js (Dash loads every asset); adds to window.anju without replacing it. */
(function () {
  "use strict";
  var bureau = {
    /* road gaps: orange, a connection still to build dashed; the selected gap (hideout
       .selected = its gid, set by the page's link callback) thick and black */
    gapStyle: function (feature, context) {
      var h = (context && context.hideout) || {};
      var p = feature.properties || {};
      var sel = !!h.selected && p.gid === h.selected;
      return {
        color: sel ? (h.selectedColor || "#000000") : (h.color || "#D55E00"),
        weight: sel ? (h.selectedWeight || 9) : (h.weight || 5),
        opacity: sel ? 1 : (h.opacity || 0.85),
        dashArray: p.k === "connection" ? "8 6" : null,
        lineCap: "round"
      };
    }
  };
  window.anju = Object.assign({}, window.anju || {}, bureau);
})();
