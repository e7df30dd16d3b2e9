// Live monitoring: one socket; every push is a hint to re-read the snapshot.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let snapshot = null;
  let clockOffset = 0;
  let syncTimer = null;
  let retry = 500;

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    if (cls) el.className = cls;
    return el;
  }

  function duration(seconds) {
    if (seconds == null) return "—";
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }

  function sinceSeconds(iso) {
    if (!iso) return null;
    return (Date.now() + clockOffset - Date.parse(iso)) / 1000;
  }

  function sparkline(points) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 120 24");
    svg.setAttribute("class", "spark");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Waiting contacts over the last hour: " + points.join(", "));
    const max = Math.max(1, ...points);
    const step = 120 / Math.max(1, points.length - 1);
    const d = points.map((p, i) => (i ? "L" : "M") + (i * step).toFixed(1) + " " + (22 - (p / max) * 20).toFixed(1)).join(" ");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  function renderQueues() {
    const body = $("queues").tBodies[0];
    body.replaceChildren();
    for (const q of snapshot.queues) {
      const tr = document.createElement("tr");
      tr.dataset.queueId = q.id;
      tr.appendChild(text("td", q.name));
      tr.appendChild(text("td", q.waiting, "waiting"));
      tr.appendChild(text("td", q.waiting ? duration(q.longest_wait_seconds) : "—", "longest"));
      tr.appendChild(text("td", q.offered_today, "offered"));
      const sl = q.service_level;
      const slText = sl.percent == null ? "—" : sl.percent + "%";
      const td = text("td", slText + " (target " + sl.target_percent + "% in " + sl.threshold_seconds + " s)", "sl");
      if (sl.percent != null) td.classList.add(sl.percent >= sl.target_percent ? "good" : "bad");
      tr.appendChild(td);
      const chart = document.createElement("td");
      chart.appendChild(sparkline(q.waiting_last_hour));
      tr.appendChild(chart);
      body.appendChild(tr);
    }
    if (!snapshot.queues.length) body.appendChild(text("tr", "")).appendChild(text("td", "No queues.", "muted"));
  }

  function renderAgents() {
    const body = $("agents").tBodies[0];
    body.replaceChildren();
    for (const a of snapshot.agents) {
      const tr = document.createElement("tr");
      tr.dataset.agentId = a.id;
      tr.appendChild(text("td", a.name));
      tr.appendChild(text("td", a.team));
      tr.appendChild(text("td", a.state_label + (a.idle_code ? " · " + a.idle_code : ""), "state state-" + a.state));
      tr.appendChild(text("td", duration(sinceSeconds(a.state_since)), "since"));
      const load = ["chat", "email", "social"].map((m) => a.load[m].engaged + "/" + a.load[m].maximum).join(" · ");
      tr.appendChild(text("td", load, "load"));
      tr.appendChild(text("td", a.offers, "offers"));
      tr.appendChild(text("td", a.conversations, "owned"));
      tr.appendChild(text("td", a.rona_today, "rona"));
      body.appendChild(tr);
    }
  }

  function renderConversations() {
    const list = $("conversations");
    list.replaceChildren();
    for (const c of snapshot.conversations) {
      const li = document.createElement("li");
      const link = text("a", c.customer);
      link.href = "/care/conversations/" + c.id + "/";
      li.appendChild(link);
      li.appendChild(text("span", " " + c.kind + (c.owner ? " · " + c.owner : " · waiting"), "muted"));
      list.appendChild(li);
    }
    if (!snapshot.conversations.length) list.appendChild(text("li", "No open conversations.", "muted"));
  }

  function apply(data) {
    snapshot = data;
    clockOffset = Date.parse(data.server_time) - Date.now();
    renderQueues();
    renderAgents();
    renderConversations();
  }

  function requestSync() {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(() => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ action: "sync" }));
    }, 150);
  }

  function setConnection(state, label) {
    const el = $("connection");
    el.className = "connection " + state;
    el.textContent = label;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/care/");
    ws.onopen = () => { retry = 500; };
    ws.onmessage = (e) => {
      const message = JSON.parse(e.data);
      if (message.type === "snapshot") { apply(message.data); setConnection("online", "live"); }
      else if (message.type === "event") requestSync();
    };
    ws.onclose = (event) => {
      if (event.code === 4401) { location.href = "/accounts/login/?next=/care/"; return; }
      if (event.code === 4403) { setConnection("offline", "Not a supervisor in this tenant"); return; }
      setConnection("offline", "reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  setInterval(() => { if (snapshot) renderAgents(); }, 1000);
  connect();
})();
