// A small vector map in SVG: Web Mercator metres (EPSG:3857), y flipped for SVG.
// Roads come from the service as GeoJSON, so the map works without internet tiles;
// raster tiles are drawn underneath only when a tile URL is configured.
"use strict";

(function () {
  const R = 6378137.0;
  const NS = "http://www.w3.org/2000/svg";

  function project(lon, lat) {
    const x = (R * lon * Math.PI) / 180;
    const y = R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
    return [x, -y];
  }
  function unproject(x, sy) {
    const lon = (x / R) * (180 / Math.PI);
    const lat = (2 * Math.atan(Math.exp(-sy / R)) - Math.PI / 2) * (180 / Math.PI);
    return [lon, lat];
  }
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function pathOfLines(lines) {
    const parts = [];
    for (const line of lines) {
      line.forEach((c, i) => {
        const p = project(c[0], c[1]);
        parts.push((i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1));
      });
    }
    return parts.join("");
  }
  function pathOfPolygon(rings) {
    return rings.map((r) => pathOfLines([r]) + "Z").join("");
  }

  // the plan report's sector colours (serve/map_helpers.py SECTOR_COLOURS)
  const SECTOR_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363", "#6baed6", "#fd8d3c", "#74c476", "#9e9ac8", "#969696",
    "#9c9ede", "#cedb9c", "#e7cb94", "#e7969c", "#de9ed6"];

  class VectorMap {
    constructor(svg) {
      this.svg = svg;
      this.view = { x: 0, y: 0, w: 1000, h: 1000 };
      this.tileUrl = "";
      this.onPick = null;
      this.layers = {};
      for (const g of svg.querySelectorAll("g")) this.layers[g.id.replace("layer-", "")] = g;
      this._drag = null;
      svg.addEventListener("wheel", (e) => {
        e.preventDefault();
        this.zoomAt(e.deltaY < 0 ? 0.8 : 1.25, this.toMap(e.clientX, e.clientY));
      }, { passive: false });
      svg.addEventListener("pointerdown", (e) => {
        this._drag = { x: e.clientX, y: e.clientY, view: { ...this.view }, moved: false };
      });
      svg.addEventListener("pointermove", (e) => {
        const d = this._drag;
        if (!d) return;
        const dx = e.clientX - d.x, dy = e.clientY - d.y;
        if (Math.abs(dx) + Math.abs(dy) > 4) d.moved = true;
        if (!d.moved) return;
        const s = this.scale();
        this.view.x = d.view.x - dx * s;
        this.view.y = d.view.y - dy * s;
        this.apply();
      });
      svg.addEventListener("pointerup", (e) => {
        const d = this._drag;
        this._drag = null;
        if (d && !d.moved && this.onPick && !(e.target.closest && e.target.closest(".marker.call"))) {
          const p = this.toMap(e.clientX, e.clientY);
          const ll = unproject(p[0], p[1]);
          this.onPick(ll[0], ll[1]);
        }
        if (d && d.moved) this.drawTiles();
      });
      window.addEventListener("resize", () => this.apply());
    }
    scale() {
      const r = this.svg.getBoundingClientRect();
      return Math.max(this.view.w / Math.max(r.width, 1), this.view.h / Math.max(r.height, 1));
    }
    toMap(cx, cy) {
      const pt = this.svg.createSVGPoint();
      pt.x = cx; pt.y = cy;
      const m = this.svg.getScreenCTM();
      const p = m ? pt.matrixTransform(m.inverse()) : pt;
      return [p.x, p.y];
    }
    apply() {
      const v = this.view;
      this.svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
      this.svg.style.setProperty("--px", String(this.scale()));
    }
    fit(bbox) {
      const a = project(bbox[0], bbox[1]), b = project(bbox[2], bbox[3]);
      const pad = 0.05 * Math.max(b[0] - a[0], a[1] - b[1]);
      this.view = { x: a[0] - pad, y: b[1] - pad, w: b[0] - a[0] + 2 * pad, h: a[1] - b[1] + 2 * pad };
      this.apply();
      this.drawTiles();
    }
    zoomAt(f, p) {
      const v = this.view;
      const c = p || [v.x + v.w / 2, v.y + v.h / 2];
      this.view = { x: c[0] - (c[0] - v.x) * f, y: c[1] - (c[1] - v.y) * f, w: v.w * f, h: v.h * f };
      this.apply();
      this.drawTiles();
    }
    clear(name) {
      const g = this.layers[name];
      while (g.firstChild) g.removeChild(g.firstChild);
      return g;
    }
    drawRoads(fc) {
      const g = this.clear("roads");
      for (const f of fc.features) {
        const major = /primary|secondary|trunk|motorway/.test(f.properties.highway || "");
        g.appendChild(el("path", { d: pathOfLines(f.geometry.coordinates), class: major ? "road major" : "road" }));
      }
    }
    drawLine(layer, coords, cls) {
      const g = this.clear(layer);
      if (coords && coords.length > 1) g.appendChild(el("path", { d: pathOfLines([coords]), class: cls }));
    }
    drawArea(geom) {
      const g = this.clear("area");
      const polys = geom.type === "Polygon" ? [geom.coordinates] : geom.coordinates;
      for (const p of polys) g.appendChild(el("path", { d: pathOfPolygon(p), class: "area" }));
    }
    drawHotspots(fc, visible) {
      const g = this.clear("hotspots");
      if (!visible) return;
      let max = 1;
      for (const f of fc.features) max = Math.max(max, f.properties.incidents || f.properties.calls || 1);
      for (const f of fc.features) {
        if (f.geometry.type !== "Polygon") continue;
        const n = f.properties.incidents || f.properties.calls || 1;
        const e = el("path", { d: pathOfPolygon(f.geometry.coordinates), class: "hotspot" });
        e.setAttribute("fill-opacity", (0.15 + 0.6 * (n / max)).toFixed(2));
        g.appendChild(e);
      }
    }
    // The plan's patrol sectors: each in its own colour (by its sector index) with its
    // name; `only` (a site id) draws that sector's outline alone (the officer's page).
    drawSectors(fc, visible, only) {
      const g = this.clear("sectors");
      if (!visible) return;
      for (const f of fc.features) {
        const pr = f.properties || {};
        if (only !== undefined && pr.site_id !== only) continue;
        const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.type === "MultiPolygon" ? f.geometry.coordinates : [];
        if (!polys.length) continue;
        const colour = SECTOR_COLOURS[(pr.sector || 0) % SECTOR_COLOURS.length];
        const e = el("path", { d: polys.map(pathOfPolygon).join(""), class: only !== undefined ? "sector own" : "sector", "data-sector": pr.name || "" });
        e.style.setProperty("--c", colour);
        g.appendChild(e);
        // the name at the centre of the largest part's bounding box
        let best = null, area = -1;
        for (const p of polys) {
          const xs = p[0].map((c) => c[0]), ys = p[0].map((c) => c[1]);
          const a = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
          if (a > area) { area = a; best = [(Math.max(...xs) + Math.min(...xs)) / 2, (Math.max(...ys) + Math.min(...ys)) / 2]; }
        }
        const c = project(best[0], best[1]);
        const t = el("text", { x: c[0], y: c[1], class: "sector-label" });
        t.textContent = pr.name || "";
        g.appendChild(t);
      }
    }
    marker(layer, lon, lat, cls, label, data) {
      const p = project(lon, lat);
      const grp = el("g", { class: "marker " + cls, transform: `translate(${p[0]} ${p[1]})` });
      for (const k in data || {}) grp.setAttribute("data-" + k, data[k]);
      grp.appendChild(el("circle", { r: "1", class: "dot" }));
      if (label) {
        const t = el("text", { dx: "0.9em", dy: "0.35em", class: "label" });
        t.textContent = label;
        grp.appendChild(t);
      }
      this.layers[layer].appendChild(grp);
      return grp;
    }
    drawTiles() {
      const g = this.clear("tiles");
      if (!this.tileUrl) return;
      const world = 2 * Math.PI * R;
      const r = this.svg.getBoundingClientRect();
      const mpp = this.view.w / Math.max(r.width, 1);
      const z = Math.max(0, Math.min(19, Math.round(Math.log2(world / (256 * mpp)))));
      const n = 2 ** z, size = world / n;
      const x0 = Math.floor((this.view.x + world / 2) / size), x1 = Math.floor((this.view.x + this.view.w + world / 2) / size);
      const y0 = Math.floor((this.view.y + world / 2) / size), y1 = Math.floor((this.view.y + this.view.h + world / 2) / size);
      if ((x1 - x0 + 1) * (y1 - y0 + 1) > 120) return;
      for (let tx = x0; tx <= x1; tx++) {
        for (let ty = y0; ty <= y1; ty++) {
          if (tx < 0 || ty < 0 || tx >= n || ty >= n) continue;
          const href = this.tileUrl.replace("{z}", z).replace("{x}", tx).replace("{y}", ty).replace("{s}", "abc"[(tx + ty) % 3]);
          g.appendChild(el("image", { href, x: tx * size - world / 2, y: ty * size - world / 2, width: size, height: size }));
        }
      }
    }
  }

  window.XFMap = { VectorMap, project, unproject };
})();
