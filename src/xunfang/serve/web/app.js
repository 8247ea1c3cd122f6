// xunfang console: log in, map, call intake, recommend and dispatch, unit status board,
// alerts, KPIs; live updates over the /ws feed. No build step, no external resources.
// Text from the server is always set with textContent (never parsed as HTML).
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  const state = {
    token: sessionStorage.getItem("xf_token") || "",
    me: null, meta: null, lang: localStorage.getItem("xf_lang") || (document.documentElement.lang === "en" ? "en" : "zh"),
    calls: new Map(), units: new Map(), sites: [], alerts: new Map(),
    selectedCall: null, hotspots: null, ws: null, wsRetry: 1000, callsPage: 0,
  };
  const CALLS_PER_PAGE = 20;
  const FETCH_PAGE = 200, FETCH_PAGES_MAX = 50;
  let map = null;

  // ------------------------------------------------------------------ i18n
  function t(key) { return (window.I18N[state.lang] || {})[key] || key; }
  function applyLang() {
    document.documentElement.lang = state.lang === "zh" ? "zh" : "en";
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    $("#lang-toggle").textContent = t("lang_other");
    fillCallTypes();
    fillDispositions();
    renderAll();
    setFeed(state.ws && state.ws.readyState === 1);
  }

  // ------------------------------------------------------------------ HTTP
  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + state.token };
    const init = { method, headers };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const r = await fetch(path, init);
    if (r.status === 401) { logout(); throw new Error("401"); }
    const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
    if (!r.ok) {
      const d = data && data.detail;
      const msg = Array.isArray(d) ? d.map((x) => `${x.field}: ${x.msg}`).join("; ") : (d || r.statusText);
      const err = new Error(msg); err.status = r.status; throw err;
    }
    return data;
  }

  // ------------------------------------------------------------------ login
  async function login(ev) {
    ev.preventDefault();
    $("#login-error").textContent = "";
    const form = new URLSearchParams({ username: $("#login-user").value, password: $("#login-pass").value });
    const r = await fetch("/api/auth/token", { method: "POST", body: form });
    if (r.status === 429) {  // throttled: say whom and how long, not "wrong password"
      const body = await r.json().catch(() => ({}));
      const key = String(body.detail || "").includes("for this user") ? "login_throttled_user" : "login_throttled_address";
      $("#login-error").textContent = t(key).replace("{s}", r.headers.get("Retry-After") || "?");
      return;
    }
    if (!r.ok) { $("#login-error").textContent = t("login_failed"); return; }
    const tok = await r.json();
    state.token = tok.access_token;
    sessionStorage.setItem("xf_token", state.token);
    $("#login-pass").value = "";
    await start();
  }
  function logout() {
    state.token = ""; sessionStorage.removeItem("xf_token");
    if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
    $("#main").hidden = true; $("#login").hidden = false; $("#logout").hidden = true; $("#who").textContent = "";
  }

  // every open call, oldest waiting first, fetched a page at a time (keyset paging)
  async function loadOpenCalls() {
    const out = [];
    let after = 0;
    for (let i = 0; i < FETCH_PAGES_MAX; i++) {
      const page = await api("GET", `/api/calls?open=true&order=oldest&limit=${FETCH_PAGE}&after_id=${after}`);
      out.push(...page);
      if (page.length < FETCH_PAGE) break;
      after = page[page.length - 1].id;
    }
    return out;
  }
  // what the feed may have missed while it was down: units, open calls and alerts
  async function reloadState() {
    const [units, calls, alerts] = await Promise.all([
      api("GET", "/api/units"), loadOpenCalls(), api("GET", "/api/alerts"),
    ]);
    state.units = new Map(units.map((u) => [u.id, u]));
    state.calls = new Map(calls.map((c) => [c.id, c]));
    state.alerts = new Map(alerts.map((a) => [a.id, a]));
    renderAll();
  }

  async function start() {
    state.me = await api("GET", "/api/auth/me");
    state.meta = await api("GET", "/api/meta");
    state.dispositions = await api("GET", "/api/meta/dispositions");
    $("#login").hidden = true; $("#main").hidden = false; $("#logout").hidden = false;
    $("#who").textContent = `${state.me.username} (${state.me.role})`;
    $("#area-name").textContent = state.meta.area;
    const role = state.me.role;
    $("#intake-panel").hidden = !(role === "dispatcher" || role === "admin");
    $("#alert-form").hidden = role === "analyst";
    $("#kpi-panel").hidden = role === "officer";
    if (!map) {
      map = new window.XFMap.VectorMap($("#map"));
      map.onPick = pick;
    }
    map.tileUrl = state.meta.tile_url || "";
    map.fit(state.meta.bbox);
    map.drawArea(state.meta.area_geojson);
    $("#sectors-toggle").hidden = !state.meta.sectors;
    fillCallTypes();
    applyLang();
    const [roads, sites] = await Promise.all([api("GET", "/api/map/roads"), api("GET", "/api/sites")]);
    map.drawRoads(roads);
    state.sites = sites;
    await reloadState();
    connectFeed();
  }

  // ------------------------------------------------------------------ live feed
  function setFeed(on) {
    const e = $("#feed-state");
    e.className = "feed " + (on ? "on" : "off");
    e.textContent = t(on ? "feed_on" : "feed_off");
    e.dataset.state = on ? "on" : "off";
  }
  function connectFeed() {
    if (state.ws) return;
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    state.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ token: state.token }));
    ws.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (ev.type === "hello") { setFeed(true); state.wsRetry = 1000; return; }
      if (ev.type === "feed.resync") return; // the server drops us next: reload on reconnect
      const d = ev.data;
      if (ev.type === "call.created" || ev.type === "call.updated") state.calls.set(d.id, d);
      else if (ev.type === "unit.updated") state.units.set(d.id, d);
      else if (ev.type.startsWith("alert.")) state.alerts.set(d.id, d);  // created, acked, updated, escalated
      renderAll();
    };
    ws.onclose = (ev) => {
      state.ws = null; setFeed(false);
      state.reconnects = (state.reconnects || 0) + 1;
      // 4401: token expired, revoked or user disabled (the REST calls below then log out);
      // 4403: the role changed (reload who we are); anything else: the server went away
      if (state.token) setTimeout(async () => {
        // reload what we missed (units, calls AND alerts), then listen again
        try {
          if (ev.code === 4403) state.me = await api("GET", "/api/auth/me");
          await reloadState();
        } catch (e) { /* try again later */ }
        connectFeed();
      }, state.wsRetry);
      state.wsRetry = Math.min(state.wsRetry * 2, 30000);
    };
  }

  // ------------------------------------------------------------------ rendering
  function node(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "class") e.className = attrs[k];
      else if (k === "on") for (const ev in attrs.on) e.addEventListener(ev, attrs.on[ev]);
      else if (k.startsWith("data-")) e.setAttribute(k, attrs[k]);
      else e[k] = attrs[k];
    }
    for (const c of children) e.append(c);
    return e;
  }
  function typeLabel(key) {
    const ct = state.meta && state.meta.call_types.find((x) => x.key === key);
    return ct ? ct[state.lang] : key;
  }
  function fillCallTypes() {
    if (!state.meta) return;
    const sel = $("#call-type"), keep = sel.value;
    sel.replaceChildren(...state.meta.call_types.map((ct) => node("option", { value: ct.key, textContent: ct[state.lang] })));
    if (keep) sel.value = keep;
  }
  function fmtEta(s) { return s < 90 ? `${Math.round(s)} ${t("s")}` : `${(s / 60).toFixed(1)} ${t("min")}`; }
  function isOpen(c) { return ["received", "dispatched", "en_route", "on_scene"].includes(c.status); }

  function renderAll() {
    if (!state.meta || !map) return;
    renderCalls(); renderUnits(); renderAlerts(); renderMap();
  }
  function renderCalls() {
    // oldest waiting first, a page at a time
    const all = [...state.calls.values()].filter(isOpen)
      .sort((a, b) => a.received_at.localeCompare(b.received_at) || a.id - b.id);
    const pages = Math.max(1, Math.ceil(all.length / CALLS_PER_PAGE));
    state.callsPage = Math.min(Math.max(state.callsPage, 0), pages - 1);
    const open = all.slice(state.callsPage * CALLS_PER_PAGE, (state.callsPage + 1) * CALLS_PER_PAGE);
    $("#calls-page").textContent = `${state.callsPage + 1} / ${pages} (${all.length})`;
    $("#calls-prev").disabled = state.callsPage === 0;
    $("#calls-next").disabled = state.callsPage >= pages - 1;
    const canDispatch = state.me && (state.me.role === "dispatcher" || state.me.role === "admin");
    $("#calls-list").replaceChildren(...open.map((c) => {
      const li = node("li", { "data-call-id": String(c.id), class: c.id === state.selectedCall ? "selected" : "" },
        node("span", { class: `badge p${c.priority}`, textContent: "P" + c.priority }),
        node("span", { class: "grow", textContent: `#${c.id} ${typeLabel(c.call_type)} ${c.address || ""}` }),
        node("span", { class: "st " + c.status, textContent: t("st_" + c.status) + (c.unit_id ? ` · ${c.unit_id}` : "") }));
      if (canDispatch && c.status === "received") {
        li.append(node("button", { type: "button", class: "recommend", textContent: t("recommend"), on: { click: () => showRecs(c.id) } }));
      }
      if (canDispatch && c.status !== "received") {
        li.append(node("button", { type: "button", class: "backup", textContent: t("backup"), on: { click: () => showRecs(c.id, true) } }));
      }
      if (canDispatch && c.status === "on_scene") {
        li.append(node("button", { type: "button", class: "clear", textContent: t("clear_call"), on: { click: () => clearCall(c.id) } }));
      }
      if (canDispatch && (c.status === "received" || c.status === "dispatched" || c.status === "en_route")) {
        li.append(node("button", { type: "button", class: "secondary cancel", textContent: t("cancel"), on: { click: () => cancelCall(c.id) } }));
      }
      return li;
    }));
  }
  function unitActions(u) {
    const out = [];
    const act = (key, status) => node("button", { type: "button", class: "act-" + status, textContent: t(key), on: { click: () => setStatus(u.id, status) } });
    const mine = state.me.role !== "officer" || state.me.unit_id === u.id;
    if (!mine || state.me.role === "analyst") return out;
    if (u.status === "dispatched") out.push(act("act_en_route", "en_route"));
    if (u.status === "en_route") out.push(act("act_on_scene", "on_scene"));
    if (u.status === "on_scene") out.push(act("act_clear", "available"));
    if (u.status === "available") out.push(act("act_oos", "out_of_service"));
    if (u.status === "out_of_service" || u.status === "returning") out.push(act("act_back", "available"));
    return out;
  }
  function renderUnits() {
    const units = [...state.units.values()].sort((a, b) => a.id.localeCompare(b.id));
    $("#units-table tbody").replaceChildren(...units.map((u) => node("tr", { "data-unit-id": u.id },
      node("td", { textContent: u.id }),
      node("td", { textContent: t("k_" + u.kind) }),
      node("td", { class: "status st " + u.status, "data-status": u.status, textContent: t("st_" + u.status) }),
      node("td", { textContent: u.call_id ? "#" + u.call_id : "" }),
      node("td", {}, ...unitActions(u)))));
  }
  function renderAlerts() {
    const alerts = [...state.alerts.values()].sort((a, b) => b.id - a.id).slice(0, 20);
    $("#alerts-list").replaceChildren(...alerts.map((a) => {
      const mine = state.me.unit_id && a.recipients.find((r) => r.unit_id === state.me.unit_id);
      const li = node("li", { "data-alert-id": String(a.id) },
        node("span", { class: "grow", textContent: `#${a.id} ${a.description}` }),
        node("span", { class: "to", textContent: a.recipients.map((r) => r.busy ? `${r.unit_id} (${t("unit_busy")})` : r.unit_id).join(", ") }),
        node("span", { textContent: `${a.acked}/${a.recipients.length} ${t("acked")}` }));
      if (a.escalated_at) { li.classList.add("escalated"); li.append(node("span", { class: "esc", textContent: t("escalated") })); }
      const canDispatch = state.me.role === "dispatcher" || state.me.role === "admin";
      if (canDispatch && !a.call_id) {
        li.append(node("button", { type: "button", class: "to-call", textContent: t("to_call"), on: { click: () => alertToCall(a.id) } }));
      } else if (a.call_id) li.append(node("span", { textContent: "→ #" + a.call_id }));
      if (mine && !mine.acked_at) {
        li.append(node("button", { type: "button", textContent: t("ack"), on: { click: () => ack(a.id) } }));
      }
      return li;
    }));
  }
  function renderMap() {
    map.clear("sites"); map.clear("calls"); map.clear("units"); map.clear("alerts");
    for (const s of state.sites) map.marker("sites", s.lon, s.lat, "site", s.name, { site: s.name });
    for (const c of state.calls.values()) {
      if (!isOpen(c)) continue;
      const m = map.marker("calls", c.lon, c.lat, "call" + (c.id === state.selectedCall ? " selected" : ""), "#" + c.id, { "call-id": c.id });
      m.addEventListener("pointerup", () => showRecs(c.id));
    }
    for (const a of [...state.alerts.values()].slice(-5)) map.marker("alerts", a.lon, a.lat, "alert", "", { "alert-id": a.id });
    for (const u of state.units.values()) map.marker("units", u.lon, u.lat, "unit " + u.status, u.id, { "unit-id": u.id });
  }
  function pick(lon, lat) {
    for (const id of ["#call-lon", "#alert-lon"]) $(id).value = lon.toFixed(6);
    for (const id of ["#call-lat", "#alert-lat"]) $(id).value = lat.toFixed(6);
    map.clear("pick");
    map.marker("pick", lon, lat, "pick", "");
  }

  // ------------------------------------------------------------------ actions
  async function submitCall(ev) {
    ev.preventDefault();
    $("#call-error").textContent = "";
    const body = {
      call_type: $("#call-type").value,
      lon: parseFloat($("#call-lon").value), lat: parseFloat($("#call-lat").value),
      address: $("#call-address").value, description: $("#call-desc").value,
    };
    const pr = $("#call-priority").value; if (pr) body.priority = parseInt(pr, 10);
    if ($("#call-name").value.trim()) body.caller_name = $("#call-name").value.trim();
    if ($("#call-phone").value.trim()) body.caller_phone = $("#call-phone").value.trim();
    try {
      const c = await api("POST", "/api/calls", body);
      state.calls.set(c.id, c);
      for (const id of ["#call-address", "#call-desc", "#call-name", "#call-phone"]) $(id).value = "";
      renderAll();
      await showRecs(c.id);
    } catch (e) { $("#call-error").textContent = e.message; }
  }
  async function showRecs(callId, backup) {
    state.selectedCall = callId;
    $("#dispatch-error").textContent = "";
    $("#recs").hidden = false;
    $("#recs-call").textContent = "#" + callId;
    renderCalls(); renderMap();
    try {
      const rec = await api("GET", `/api/calls/${callId}/recommendations?k=3`);
      const items = rec.units.map((u, i) => node("li", { class: "rec-item", "data-unit-id": u.unit_id },
        node("span", { class: "grow", textContent: `${i + 1}. ${u.unit_id} (${t("k_" + u.kind)})` + (u.outside_own_sector ? ` · ${t("outside_sector")}` : "") }),
        node("span", { textContent: `${t("eta")} ${fmtEta(u.eta_s)}` }),
        backup
          ? node("button", { type: "button", class: "dispatch", textContent: t("backup"), on: { click: () => addBackup(callId, u.unit_id) } })
          : node("button", { type: "button", class: "dispatch", textContent: t("dispatch"), on: { click: () => dispatch(callId, u.unit_id) } })));
      $("#recs-list").replaceChildren(...(items.length ? items : [node("li", { textContent: t("no_units") })]));
    } catch (e) { $("#dispatch-error").textContent = e.message; }
  }
  async function dispatch(callId, unitId) {
    $("#dispatch-error").textContent = "";
    try {
      const c = await api("POST", `/api/calls/${callId}/dispatch`, { unit_id: unitId });
      state.calls.set(c.id, c);
      $("#recs").hidden = true; state.selectedCall = null;
      renderAll();
    } catch (e) {
      $("#dispatch-error").textContent = e.message;
      if (e.status === 409) showRecs(callId);
    }
  }
  async function addBackup(callId, unitId) {
    $("#dispatch-error").textContent = "";
    try {
      const c = await api("POST", `/api/calls/${callId}/units`, { unit_id: unitId });
      state.calls.set(c.id, c); $("#recs").hidden = true; state.selectedCall = null; renderAll();
    } catch (e) { $("#dispatch-error").textContent = e.message; }
  }
  async function clearCall(callId) {
    $("#dispatch-error").textContent = "";
    try {
      const c = await api("POST", `/api/calls/${callId}/clear`, { disposition: $("#clear-disposition").value, note: $("#clear-note").value });
      state.calls.set(c.id, c); $("#clear-note").value = ""; renderAll();
    } catch (e) { $("#dispatch-error").textContent = e.message; }
  }
  async function alertToCall(alertId) {
    $("#alert-error").textContent = "";
    try {
      const c = await api("POST", `/api/alerts/${alertId}/call`, { call_type: $("#call-type").value });
      state.calls.set(c.id, c);
      const a = state.alerts.get(alertId); if (a) a.call_id = c.id;
      renderAll(); await showRecs(c.id);
    } catch (e) { $("#alert-error").textContent = e.message; }
  }
  function fillDispositions() {
    const sel = $("#clear-disposition"), keep = sel.value;
    sel.replaceChildren(...(state.dispositions || []).map((d) => node("option", { value: d.code, textContent: d[state.lang] })));
    if (keep) sel.value = keep;
  }
  async function cancelCall(callId) {
    try { const c = await api("POST", `/api/calls/${callId}/cancel`); state.calls.set(c.id, c); renderAll(); }
    catch (e) { $("#dispatch-error").textContent = e.message; }
  }
  async function setStatus(unitId, status) {
    $("#unit-error").textContent = "";
    try { const u = await api("POST", `/api/units/${encodeURIComponent(unitId)}/status`, { status }); state.units.set(u.id, u); renderAll(); }
    catch (e) { $("#unit-error").textContent = e.message; }
  }
  async function submitAlert(ev) {
    ev.preventDefault();
    $("#alert-error").textContent = "";
    try {
      const a = await api("POST", "/api/alerts", {
        description: $("#alert-desc").value, lon: parseFloat($("#alert-lon").value),
        lat: parseFloat($("#alert-lat").value), within_min: parseFloat($("#alert-min").value),
        units: parseInt($("#alert-units").value, 10),  // the nearest available N (API: 1..500)
      });
      state.alerts.set(a.id, a); $("#alert-desc").value = ""; renderAll();
    } catch (e) { $("#alert-error").textContent = e.message; }
  }
  async function ack(alertId) {
    try { const a = await api("POST", `/api/alerts/${alertId}/ack`, {}); state.alerts.set(a.id, a); renderAll(); }
    catch (e) { $("#alert-error").textContent = e.message; }
  }
  async function loadKpis() {
    const k = await api("GET", "/api/kpis");
    const fmt = (s) => (s == null ? "–" : (s / 60).toFixed(1) + " " + t("min"));
    const rows = k.response_by_priority.map((r) => node("tr", {},
      node("td", { textContent: "P" + r.priority }), node("td", { textContent: String(r.calls) }),
      node("td", { textContent: fmt(r.median_s) }), node("td", { textContent: fmt(r.p90_s) })));
    $("#kpi-out").replaceChildren(
      node("p", { textContent: `${t("calls_n")}: ${k.calls} · ${t("person_times")}: ${k.person_times_on_duty}` }),
      node("table", {}, node("thead", {}, node("tr", {},
        node("th", { textContent: t("p") }), node("th", { textContent: t("calls_n") }),
        node("th", { textContent: t("median") }), node("th", { textContent: t("p90") }))), node("tbody", {}, ...rows)));
    // the reference district's standards: 签收, 出警, 到场, 反馈 (last 24 h)
    const st = await api("GET", "/api/kpis/standards");
    const pctOf = (x) => (x.share_within == null ? "–" : Math.round(100 * x.share_within) + " %");
    const srows = ["acknowledge", "depart", "arrive", "feedback"].map((k) => node("tr", { "data-kpi": k },
      node("td", { textContent: t("kpi_" + k) }), node("td", { textContent: `≤ ${st[k].standard_s} ${t("s")}` }),
      node("td", { textContent: `${st[k].within}/${st[k].measured}` }), node("td", { textContent: pctOf(st[k]) }),
      // started, not ended and not yet late: shown apart, never in the share (kpi_sql.py)
      node("td", { className: "kpi-pending", textContent: st[k].pending ? `${t("kpi_pending")}: ${st[k].pending}` : "" })));
    const vis = st.visibility == null ? "–" : Math.round(100 * st.visibility) + " %";
    $("#kpi-out").append(
      node("table", { id: "kpi-standards" }, node("tbody", {}, ...srows)),
      node("p", { textContent: `${t("alerts_acted")}: ${st.alerts_acted_on}/${st.alerts} · ${t("patrol_times")}: ${st.patrol_person_times} · ${t("visibility")}: ${vis}` }));
  }
  async function toggleSectors() {
    const on = $("#show-sectors").checked;
    if (on && !state.sectors) state.sectors = await api("GET", "/api/map/sectors");
    map.drawSectors(state.sectors || { features: [] }, on);
  }
  async function toggleHotspots() {
    const on = $("#show-hotspots").checked;
    if (on && !state.hotspots) state.hotspots = await api("GET", "/api/map/hotspots");
    map.drawHotspots(state.hotspots || { features: [] }, on);
  }

  // ------------------------------------------------------------------ wiring
  document.addEventListener("DOMContentLoaded", () => {
    $("#login-form").addEventListener("submit", login);
    $("#logout").addEventListener("click", () => {
    // end the session on the server too (a shared booth tablet), then here
    const tok = state.token;
    logout();
    if (tok) fetch("/api/auth/logout", { method: "POST", keepalive: true, headers: { Authorization: "Bearer " + tok } }).catch(() => {});
  });
    $("#lang-toggle").addEventListener("click", () => {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem("xf_lang", state.lang);
      applyLang();
    });
    $("#call-form").addEventListener("submit", submitCall);
    $("#calls-prev").addEventListener("click", () => { state.callsPage -= 1; renderCalls(); });
    $("#calls-next").addEventListener("click", () => { state.callsPage += 1; renderCalls(); });
    $("#alert-form").addEventListener("submit", submitAlert);
    $("#kpi-load").addEventListener("click", () => loadKpis().catch(() => {}));
    $("#show-hotspots").addEventListener("change", () => toggleHotspots().catch(() => {}));
    $("#show-sectors").addEventListener("change", () => toggleSectors().catch(() => {}));
    $("#zoom-in").addEventListener("click", () => map && map.zoomAt(0.7));
    $("#zoom-out").addEventListener("click", () => map && map.zoomAt(1.4));
    $("#zoom-fit").addEventListener("click", () => map && state.meta && map.fit(state.meta.bbox));
    applyLang();
    if (state.token) start().catch(() => logout());
  });
})();
