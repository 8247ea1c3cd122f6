// xunfang officer's page: my unit and its status, my call (with the route), alerts with
// sound and vibration, sightings from the device's position, position reports while on
// duty. No build step, no external resources; server text is set with textContent.
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  const STR = {
    zh: {
      title: "巡防 警员", login: "登录", logout: "退出", username: "用户名", password: "密码",
      feed_on: "实时: 已连接", feed_off: "实时: 断开", my_unit: "我的警力", assignment: "当前警情",
      priority: "优先级", caller: "报警人", ack_call: "签收", acked_call: "已签收", disposition: "处警结果",
      note: "备注", alerts: "预警", sighting: "上报发现", description: "描述", lon: "经度", lat: "纬度",
      tap_map: "用定位, 或在地图上点选, 或输入坐标", use_gps: "使用定位", send: "上报", ack: "确认",
      acked: "已确认", act_en_route: "出发", act_on_scene: "到场", act_available: "空闲/结束",
      act_oos: "停用", st_available: "空闲", st_dispatched: "已派", st_en_route: "在途", st_on_scene: "到场",
      st_returning: "返回岗位", st_out_of_service: "停用", lang_other: "English", route: "路线",
      min: "分钟", m: "米", sent: "已上报, 推送给", units: "个警力", no_gps: "无法定位: 请在地图上点选或输入坐标",
      login_failed: "用户名或密码错误",
      login_throttled_user: "该用户在本地址登录失败次数过多，请 {s} 秒后再试（其他用户不受影响）",
      login_throttled_address: "本地址登录失败次数过多，请 {s} 秒后再试", no_unit: "未绑定警力", clear_call: "结束并反馈",
    },
    en: {
      title: "xunfang field", login: "Log in", logout: "Log out", username: "User name", password: "Password",
      feed_on: "Live: connected", feed_off: "Live: disconnected", my_unit: "My unit", assignment: "My call",
      priority: "priority", caller: "Caller", ack_call: "Acknowledge", acked_call: "Acknowledged",
      disposition: "Result", note: "Note", alerts: "Alerts", sighting: "Report a sighting",
      description: "Description", lon: "Longitude", lat: "Latitude",
      tap_map: "Use my position, tap the map, or type coordinates", use_gps: "Use my position",
      send: "Send", ack: "Ack", acked: "acked", act_en_route: "En route", act_on_scene: "On scene",
      act_available: "Available / clear", act_oos: "Off duty", st_available: "available",
      st_dispatched: "dispatched", st_en_route: "en route", st_on_scene: "on scene",
      st_returning: "returning", st_out_of_service: "out of service", lang_other: "中文", route: "Route",
      min: "min", m: "m", sent: "Sent to", units: "units", no_gps: "No position: tap the map or type coordinates",
      login_failed: "Wrong user name or password",
      login_throttled_user: "Too many failed logins of this user from this address: try again in {s} s (other users are not affected)",
      login_throttled_address: "Too many failed logins from this address: try again in {s} s", no_unit: "No unit assigned", clear_call: "Clear with result",
    },
  };
  // the service's default language (xunfang serve --lang, in <html lang>), as the console;
  // the officer's own choice (the language button) wins over it
  const serverLang = document.documentElement.lang === "en" ? "en" : "zh";
  const state = {
    token: sessionStorage.getItem("xf_field_token") || "",
    lang: localStorage.getItem("xf_field_lang") || serverLang,
    me: null, meta: null, alerts: new Map(), dispositions: [], ws: null, wsRetry: 1000,
    posTimer: null, audio: null,
  };
  let map = null;
  const t = (k) => (STR[state.lang] || STR.zh)[k] || k;

  function applyLang() {
    document.documentElement.lang = state.lang;
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    $("#lang-toggle").textContent = t("lang_other");
    setFeed(state.ws && state.ws.readyState === 1);
    renderMe(); renderAlerts(); fillDispositions();
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + state.token };
    const init = { method, headers };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const r = await fetch(path, init);
    if (r.status === 401) { logout(); throw new Error("401"); }
    const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
    if (!r.ok) {
      const d = data && data.detail;
      throw new Error(Array.isArray(d) ? d.map((x) => `${x.field}: ${x.msg}`).join("; ") : (d || r.statusText));
    }
    return data;
  }

  // ------------------------------------------------------------------ sound, vibration
  function unlockAudio() {
    if (state.audio || !window.AudioContext) return;
    try { state.audio = new AudioContext(); } catch (e) { state.audio = null; }
  }
  function beep() {
    const ctx = state.audio;
    if (ctx) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.4);
    }
    if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
  }

  // ------------------------------------------------------------------ login
  async function login(ev) {
    ev.preventDefault();
    unlockAudio();
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
    state.token = (await r.json()).access_token;
    sessionStorage.setItem("xf_field_token", state.token);
    $("#login-pass").value = "";
    await start();
  }
  function logout() {
    state.token = ""; sessionStorage.removeItem("xf_field_token");
    if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
    if (state.posTimer) { clearInterval(state.posTimer); state.posTimer = null; }
    $("#main").hidden = true; $("#login").hidden = false; $("#logout").hidden = true;
  }

  async function start() {
    state.meta = await api("GET", "/api/meta");
    state.dispositions = await api("GET", "/api/meta/dispositions");
    $("#login").hidden = true; $("#main").hidden = false; $("#logout").hidden = false;
    if (!map) {
      map = new window.XFMap.VectorMap($("#map"));
      map.onPick = (lon, lat) => setSighting(lon, lat);
    }
    map.fit(state.meta.bbox);
    map.drawArea(state.meta.area_geojson);
    api("GET", "/api/map/roads").then((fc) => map.drawRoads(fc)).catch(() => {});
    state.sectors = state.meta.sectors ? await api("GET", "/api/map/sectors").catch(() => null) : null;
    const alerts = await api("GET", "/api/alerts");
    state.alerts = new Map(alerts.map((a) => [a.id, a]));
    await refreshMe();
    applyLang();
    connect();
    startPositions();
  }

  async function refreshMe() {
    state.me = await api("GET", "/api/field/me");
    renderMe();
    const u = state.me.unit, c = state.me.call;
    // a booth officer sees the outline of the booth's own patrol sector
    if (map && state.sectors) map.drawSectors(state.sectors, !!(u && u.site_id != null), u ? u.site_id : undefined);
    if (u && c) {
      try {
        const r = await api("GET", `/api/units/${encodeURIComponent(u.id)}/route`);
        map.drawLine("route", r.line.coordinates, "route");
        $("#route-info").textContent = `${t("route")}: ${(r.eta_s / 60).toFixed(1)} ${t("min")}, ${Math.round(r.distance_m)} ${t("m")}`;
        $("#route-info").dataset.etaS = String(r.eta_s);
      } catch (e) { $("#route-info").textContent = e.message; }
    } else if (map) { map.clear("route"); }
  }

  function renderMe() {
    const me = state.me;
    if (!me) return;
    const u = me.unit;
    $("#unit-name").textContent = u ? `${u.name || u.id} (${u.id})` : t("no_unit");
    $("#unit-status").textContent = u ? t("st_" + u.status) : "";
    $("#unit-status").dataset.status = u ? u.status : "";
    for (const b of document.querySelectorAll(".st-btn")) b.disabled = !u;
    const c = me.call;
    $("#assignment").hidden = !c;
    if (!c) return;
    const ct = (state.meta.call_types || []).find((x) => x.key === c.call_type);
    $("#call-type").textContent = ct ? ct[state.lang] : c.call_type;
    $("#call-priority").textContent = String(c.priority);
    $("#call-desc").textContent = c.description;
    $("#call-addr").textContent = c.address;
    $("#call-caller").textContent = c.caller_name || "";
    $("#call-phone").textContent = c.caller_phone || "";
    if (c.caller_phone) $("#call-phone").href = "tel:" + c.caller_phone.replace(/[^0-9+]/g, "");
    $("#ack-call").disabled = !!c.acknowledged_at;
    $("#ack-call").textContent = c.acknowledged_at ? t("acked_call") : t("ack_call");
    if (map) {
      map.clear("calls");
      map.marker("calls", c.lon, c.lat, "call", "#" + c.id, { "call-id": c.id });
      map.clear("units");
      if (u) map.marker("units", u.lon, u.lat, "unit " + u.status, u.id, { "unit-id": u.id });
    }
  }
  function fillDispositions() {
    const sel = $("#disposition");
    const cur = sel.value;
    sel.replaceChildren(...state.dispositions.map((d) => {
      const o = document.createElement("option"); o.value = d.code; o.textContent = d[state.lang]; return o;
    }));
    if (cur) sel.value = cur;
  }

  async function setStatus(status) {
    const u = state.me && state.me.unit;
    if (!u) return;
    $("#unit-error").textContent = "";
    const body = { status };
    if (status === "available" && state.me.call && state.me.role_on_call === "primary") {
      body.disposition = $("#disposition").value; body.note = $("#clear-note").value;
    }
    try { await api("POST", `/api/units/${encodeURIComponent(u.id)}/status`, body); await refreshMe(); }
    catch (e) { $("#unit-error").textContent = e.message; }
  }
  // 反馈: the officer of a unit on the call records its result (POST /api/calls/{id}/clear)
  async function clearCall() {
    const c = state.me && state.me.call;
    if (!c) return;
    $("#unit-error").textContent = "";
    const body = { disposition: $("#disposition").value, note: $("#clear-note").value };
    try {
      await api("POST", `/api/calls/${c.id}/clear`, body);
      $("#clear-note").value = ""; await refreshMe(); // the call leaves, the unit returns
    } catch (e) { $("#unit-error").textContent = e.message; }
  }
  async function ackCall() {
    const c = state.me && state.me.call;
    if (!c) return;
    try { await api("POST", `/api/calls/${c.id}/ack`, {}); await refreshMe(); }
    catch (e) { $("#unit-error").textContent = e.message; }
  }

  // ------------------------------------------------------------------ alerts
  function renderAlerts() {
    const mine = state.me && state.me.unit ? state.me.unit.id : null;
    const list = [...state.alerts.values()].sort((a, b) => b.id - a.id).slice(0, 20);
    $("#alerts-list").replaceChildren(...list.map((a) => {
      const rec = mine && a.recipients.find((r) => r.unit_id === mine);
      const li = document.createElement("li");
      li.className = "alert" + (rec && !rec.acked_at ? " new" : "");
      li.dataset.alertId = String(a.id);
      li.dataset.acked = rec && rec.acked_at ? "1" : "0";
      const span = document.createElement("span");
      span.className = "grow";
      span.textContent = `#${a.id} ${a.description}`;
      li.append(span);
      if (rec && !rec.acked_at) {
        const b = document.createElement("button");
        b.type = "button"; b.className = "ack"; b.textContent = t("ack");
        b.addEventListener("click", () => ackAlert(a.id));
        li.append(b);
      } else if (rec) {
        const s = document.createElement("span"); s.textContent = t("acked"); li.append(s);
      }
      return li;
    }));
    if (map) {
      map.clear("alerts");
      for (const a of list.slice(0, 5)) map.marker("alerts", a.lon, a.lat, "alert", "", { "alert-id": a.id });
    }
  }
  async function ackAlert(id) {
    try { const a = await api("POST", `/api/alerts/${id}/ack`, {}); state.alerts.set(a.id, a); renderAlerts(); }
    catch (e) { $("#unit-error").textContent = e.message; }
  }

  // ------------------------------------------------------------------ sightings, position
  function setSighting(lon, lat) {
    $("#sight-lon").value = lon.toFixed(6); $("#sight-lat").value = lat.toFixed(6);
    map.clear("pick"); map.marker("pick", lon, lat, "pick", "");
  }
  function locate() {
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) { reject(new Error(t("no_gps"))); return; }
      navigator.geolocation.getCurrentPosition(
        (p) => resolve([p.coords.longitude, p.coords.latitude]),
        () => reject(new Error(t("no_gps"))), { enableHighAccuracy: true, timeout: 10000, maximumAge: 5000 });
    });
  }
  async function useGps() {
    $("#sight-error").textContent = "";
    try { const [lon, lat] = await locate(); setSighting(lon, lat); }
    catch (e) { $("#sight-error").textContent = e.message; }
  }
  async function sendSighting(ev) {
    ev.preventDefault();
    $("#sight-error").textContent = ""; $("#sight-msg").textContent = "";
    try {
      const a = await api("POST", "/api/alerts", {
        description: $("#sight-desc").value, lon: parseFloat($("#sight-lon").value), lat: parseFloat($("#sight-lat").value),
      });
      state.alerts.set(a.id, a); renderAlerts();
      $("#sight-desc").value = "";
      $("#sight-msg").textContent = `#${a.id} ${t("sent")} ${a.recipients.length} ${t("units")}`;
      $("#sight-msg").dataset.alertId = String(a.id);
    } catch (e) { $("#sight-error").textContent = e.message; }
  }
  function startPositions() {
    if (state.posTimer) clearInterval(state.posTimer);
    const every = Math.max(1, (state.me && state.me.position_every_s) || 30) * 1000;
    const send = async () => {
      const u = state.me && state.me.unit;
      if (!u || u.status === "out_of_service") return;
      try {
        const [lon, lat] = await locate();
        await api("POST", `/api/units/${encodeURIComponent(u.id)}/position`, { lon, lat });
      } catch (e) { /* no position now: try at the next interval */ }
    };
    state.posTimer = setInterval(send, every);
    send();
  }

  // ------------------------------------------------------------------ live feed
  function setFeed(on) {
    const e = $("#feed-state");
    e.textContent = t(on ? "feed_on" : "feed_off");
    e.className = "feed " + (on ? "on" : "off");
    e.dataset.state = on ? "on" : "off";
  }
  function connect() {
    if (state.ws) return;
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    state.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ token: state.token }));
    ws.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (ev.type === "hello") { setFeed(true); state.wsRetry = 1000; return; }
      if (ev.type === "feed.resync") return; // the server drops us next: reload on reconnect
      const d = ev.data;
      const mine = state.me && state.me.unit ? state.me.unit.id : null;
      if (ev.type === "alert.created") {
        state.alerts.set(d.id, d); renderAlerts();
        if (mine && d.recipients.some((r) => r.unit_id === mine)) beep();
      } else if (ev.type.startsWith("alert.")) {
        state.alerts.set(d.id, d); renderAlerts();
      } else if (ev.type === "unit.updated" && d.id === mine) {
        const before = state.me.unit;
        state.me.unit = d;
        if (before.call_id !== d.call_id) { if (d.call_id) beep(); refreshMe(); } else renderMe();
      } else if (ev.type === "call.updated" && state.me && state.me.call && d.id === state.me.call.id) {
        refreshMe();
      }
    };
    ws.onclose = () => {
      state.ws = null; setFeed(false);
      if (!state.token) return;
      // 4401: token expired, revoked or user disabled (the REST calls below get 401 and
      // log out); 4403: the role or unit changed (/api/field/me below reloads who we
      // are); anything else: the server went away. Reload what we missed, listen again.
      setTimeout(async () => {
        try {
          const alerts = await api("GET", "/api/alerts");
          state.alerts = new Map(alerts.map((a) => [a.id, a]));
          await refreshMe(); renderAlerts();
        } catch (e) { /* offline: retry */ }
        connect();
      }, state.wsRetry);
      state.wsRetry = Math.min(state.wsRetry * 2, 30000);
    };
  }

  // ------------------------------------------------------------------ wiring
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", () => {
    // end the session on the server too (a shared booth tablet), then here
    const tok = state.token;
    logout();
    if (tok) fetch("/api/auth/logout", { method: "POST", keepalive: true, headers: { Authorization: "Bearer " + tok } }).catch(() => {});
  });
  $("#lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("xf_field_lang", state.lang);
    applyLang();
  });
  for (const b of document.querySelectorAll(".st-btn")) b.addEventListener("click", () => setStatus(b.dataset.status));
  $("#ack-call").addEventListener("click", ackCall);
  $("#clear-call").addEventListener("click", clearCall);
  $("#sight-gps").addEventListener("click", useGps);
  $("#sight-form").addEventListener("submit", sendSighting);
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  applyLang();
  if (state.token) start().catch(() => logout());
})();
