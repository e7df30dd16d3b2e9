/* Live-chat widget: one script tag, no framework, isolated in a shadow root.
   <script src="https://contact.example/livechat/<widget-id>/widget.js" async></script>
   Optional identity verification: data-user-id and data-user-signature (HMAC-SHA256, hex). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var src = new URL(script.src);
  var match = src.pathname.match(/\/livechat\/([0-9a-f-]{36})\/widget\.js$/);
  if (!match) return;
  var base = src.origin + "/livechat/" + match[1];
  var wsBase = (src.protocol === "https:" ? "wss://" : "ws://") + src.host + "/ws/livechat/" + match[1] + "/";
  var storeKey = "livechat:" + match[1];
  var state = { token: "", socket: null, open: false, settings: null, name: "", answers: null, seen: {}, retry: 0 };

  function store(key, value) {
    try { if (value === undefined) return localStorage.getItem(storeKey + ":" + key); localStorage.setItem(storeKey + ":" + key, value); } catch (e) { return null; }
  }
  function uid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function answer(r) { return r.json().then(function (data) { if (!r.ok) throw new Error(data.error || ("HTTP " + r.status)); return data; }); }
  function post(path, body) {
    return fetch(base + path, { method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }).then(answer);
  }

  var host = document.createElement("div");
  host.setAttribute("data-livechat", "");
  var root = host.attachShadow({ mode: "open" });
  // A constructed sheet: the host page's CSP (style-src with nonces) would refuse a <style>.
  var css =
    ':host{all:initial}[hidden]{display:none!important}' +
    '*{box-sizing:border-box;font-family:system-ui,sans-serif}' +
    '.launcher{position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;border:0;color:#fff;font-size:24px;cursor:pointer;box-shadow:0 2px 10px rgba(0,0,0,.3);z-index:2147483000}' +
    '.left .launcher,.left .panel{right:auto;left:20px}' +
    '.panel{position:fixed;bottom:88px;right:20px;width:340px;max-width:calc(100vw - 24px);height:460px;max-height:calc(100vh - 110px);background:#fff;color:#1f2933;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000}' +
    'header{color:#fff;padding:12px 14px;font-weight:600;display:flex;justify-content:space-between;align-items:center}' +
    'header button{background:none;border:0;color:#fff;font-size:20px;cursor:pointer}' +
    '.log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px}' +
    '.msg{max-width:80%;padding:7px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;font-size:14px}' +
    '.in{align-self:flex-end;color:#fff}.out{align-self:flex-start;background:#eef1f4}' +
    '.who{font-size:11px;color:#52606d;margin-bottom:2px}.state{font-size:10px;opacity:.8;text-align:right}' +
    '.note{font-size:12px;color:#52606d;text-align:center}.error{color:#b42318}' +
    'form{display:flex;gap:6px;padding:8px;border-top:1px solid #e4e7eb}' +
    'input,textarea{flex:1;padding:8px;border:1px solid #cbd2d9;border-radius:8px;font-size:14px}' +
    '.grow{flex:1;display:flex}' +
    'form button{border:0;color:#fff;border-radius:8px;padding:0 12px;cursor:pointer}' +
    '.prechat{flex-direction:column;border:0}.typing{font-size:12px;color:#52606d;padding:0 12px;min-height:16px}' +
    '.fields label{display:flex;flex-direction:column;font-size:13px;gap:2px}.fields{display:flex;flex-direction:column;gap:6px}select{padding:8px;border:1px solid #cbd2d9;border-radius:8px}' +
    '.offline{flex-direction:column;border:0}.attach{background:#eef1f4!important;color:#1f2933!important;font-size:16px}.file{display:block;color:inherit;background:none;border:0;padding:0;text-decoration:underline;cursor:pointer;font:inherit}.drop{outline:3px dashed #1f6feb;outline-offset:-6px}' +
    '.tools{display:flex;gap:6px;padding:0 8px 8px}.tools input{font-size:12px;padding:4px}.tools button{font-size:12px;border:1px solid #cbd2d9;background:#fff;border-radius:6px;cursor:pointer}' +
    '@media (max-width:480px){.panel{right:0;left:0;bottom:0;width:100vw;max-width:100vw;height:100vh;max-height:100vh;border-radius:0}}' +
    '';
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  root.adoptedStyleSheets = [sheet];
  root.innerHTML =
    '<div class="wrap">' +
    '<button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false" aria-label="Open chat">\u{1F4AC}</button>' +
    '<section class="panel" role="dialog" aria-modal="false" aria-labelledby="lc-title" hidden>' +
    '<header><span id="lc-title"></span><button type="button" class="close" aria-label="Close chat">\u00D7</button></header>' +
    '<div class="log" role="log" aria-live="polite" aria-relevant="additions"></div>' +
    '<div class="typing" aria-live="polite"></div>' +
    '<form class="prechat" hidden><label class="name">Your name <input name="name" autocomplete="name" required></label><label class="email" hidden>Email <input name="email" type="email" autocomplete="email"></label><div class="fields"></div><button type="submit">Start chat</button></form>' +
    '<form class="offline" hidden><label>Your name <input name="name" autocomplete="name" required></label><label>Email <input name="email" type="email" autocomplete="email" required></label><div class="fields"></div><label>Message <textarea name="text" rows="3" maxlength="2000" required></textarea></label><button type="submit">Leave a message</button></form>' +
    '<form class="compose" hidden><button type="button" class="attach" aria-label="Attach a file">\u{1F4CE}</button><input type="file" name="file" hidden><label class="grow"><span hidden>Message</span><textarea name="text" rows="1" aria-label="Message" maxlength="2000"></textarea></label><button type="submit">Send</button></form>' +
    '<div class="tools" hidden><input name="transcript" type="email" aria-label="Email for the transcript" placeholder="Email the transcript to"><button type="button" class="send-transcript">Send</button></div>' +
    '</section></div>';
  var $ = function (sel) { return root.querySelector(sel); };
  var launcher = $(".launcher"), panel = $(".panel"), log = $(".log"), prechat = $(".prechat"), offline = $(".offline"), compose = $(".compose"), typing = $(".typing"), tools = $(".tools");

  function note(text, isError) {
    var p = document.createElement("p");
    p.className = "note" + (isError ? " error" : "");
    p.textContent = text;
    log.appendChild(p);
    log.scrollTop = log.scrollHeight;
  }
  function render(m) {
    var key = m.id ? "id:" + m.id : "c:" + m.client_id;
    var existing = (m.client_id && root.querySelector('[data-client="' + m.client_id + '"]')) || (m.id && root.querySelector('[data-id="' + m.id + '"]'));
    if (!existing) {
      existing = document.createElement("div");
      existing.className = "msg " + (m.direction === "in" ? "in" : "out");
      if (m.direction === "in") existing.style.background = state.settings ? state.settings.color : "#1f6feb";
      if (m.direction !== "in" && m.author) { var who = document.createElement("div"); who.className = "who"; who.textContent = m.author; existing.appendChild(who); }
      var text = document.createElement("div"); text.className = "text"; text.textContent = m.text; existing.appendChild(text);
      var files = document.createElement("div"); files.className = "files"; existing.appendChild(files);
      var st = document.createElement("div"); st.className = "state"; existing.appendChild(st);
      log.appendChild(existing);
    }
    if (m.files && m.files.length) showFiles(existing.querySelector(".files"), m.files);
    if (m.client_id) existing.setAttribute("data-client", m.client_id);
    if (m.id) existing.setAttribute("data-id", m.id);
    if (m.direction === "in") existing.querySelector(".state").textContent = m.status === "read" ? "Read" : (m.id ? "Delivered" : "Sending…");
    state.seen[key] = true;
    log.scrollTop = log.scrollHeight;
  }

  function showFiles(box, files) {
    box.textContent = "";
    files.forEach(function (f) {
      var el = document.createElement(f.state === "ready" ? "button" : "span");
      el.className = "file";
      el.textContent = f.state === "ready" ? "\u2B07 " + f.name : f.name + (f.state === "refused" ? "" : " (being checked)");
      if (f.state === "ready") { el.type = "button"; el.addEventListener("click", function () { download(f); }); }
      box.appendChild(el);
    });
  }
  // The token goes in a POST body, never in a link: the file comes back as a blob.
  function download(f) {
    fetch(base + "/files/" + f.id, { method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: state.token }) })
      .then(function (r) { if (!r.ok) return answer(r); return r.blob(); })
      .then(function (blob) { var a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = f.name; root.appendChild(a); a.click(); a.remove(); setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000); }, function (err) { note(err.message, true); });
  }
  function upload(file) {
    if (!file) return;
    var max = state.settings ? state.settings.upload_max_bytes : 0;
    if (max && file.size > max) { note("A file is at most " + Math.floor(max / 1024) + " KB.", true); return; }
    var id = uid(), form = new FormData();
    render({ client_id: id, text: file.name, direction: "in", status: "pending" });
    form.append("token", state.token); form.append("client_id", id); form.append("name", state.name); form.append("file", file);
    if (state.answers) form.append("fields", JSON.stringify(state.answers));
    fetch(base + "/upload", { method: "POST", mode: "cors", credentials: "omit", body: form }).then(answer).then(render, function (err) {
      var el = root.querySelector('[data-client="' + id + '"]'); if (el) el.remove(); note(err.message, true);
    });
  }
  function fieldsInto(box, fields) {
    box.textContent = "";
    fields.forEach(function (f) {
      var label = document.createElement("label"), input;
      label.textContent = f.label + (f.required ? " *" : "");
      if (f.type === "select") {
        input = document.createElement("select");
        [""].concat(f.options).forEach(function (o) { var opt = document.createElement("option"); opt.value = o; opt.textContent = o || "\u2014"; input.appendChild(opt); });
      } else { input = document.createElement("input"); input.type = f.type === "email" ? "email" : "text"; }
      input.name = "field:" + f.key; input.required = !!f.required;
      label.appendChild(input); box.appendChild(label);
    });
  }
  function answersOf(form) {
    var out = {};
    (state.settings.fields || []).forEach(function (f) { var v = form.elements["field:" + f.key].value.trim(); if (v) out[f.key] = v; });
    return out;
  }
  function connect() {
    if (!state.token || state.socket) return;
    var socket = new WebSocket(wsBase + "?token=" + encodeURIComponent(state.token));
    state.socket = socket;
    socket.onopen = function () { state.retry = 0; };
    socket.onmessage = function (e) {
      var frame = JSON.parse(e.data);
      if (frame.type === "history") frame.messages.forEach(render);
      else if (frame.type === "ack") render(frame.data);
      else if (frame.type === "error") note(frame.reason, true);
      else if (frame.type === "event") {
        if (frame.event === "message") { typing.textContent = ""; render(frame.payload); }
        else if (frame.event === "typing") { typing.textContent = (frame.payload.agent || "The agent") + " is typing…"; setTimeout(function () { typing.textContent = ""; }, 4000); }
        else if (frame.event === "agent") note(frame.payload.name + " joined the chat");
        else if (frame.event === "read") { var el = root.querySelector('[data-id="' + frame.payload.id + '"] .state'); if (el) el.textContent = "Read"; }
      }
    };
    socket.onclose = function (e) {
      state.socket = null;
      if (e.code === 4403 || e.code === 4404) { note("This chat is not available on this site.", true); return; }
      if (e.code === 4401) { state.token = ""; store("token", ""); start(); return; }
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, state.retry));
    };
  }
  function sendMessage(text) {
    var m = { client_id: uid(), text: text, direction: "in", status: "pending" };
    render(m);
    var frame = { type: "message", client_id: m.client_id, text: text, name: state.name, fields: state.answers || {} };
    if (state.socket && state.socket.readyState === 1) state.socket.send(JSON.stringify(frame));
    else { frame.token = state.token; post("/messages", frame).then(render, function (err) { note(err.message, true); }); }
  }
  function start() {
    var body = { token: store("token") || "" };
    if (script.dataset.userId) { body.user_id = script.dataset.userId; body.user_signature = script.dataset.userSignature || ""; }
    return post("/session", body).then(function (data) {
      state.token = data.token; store("token", data.token);
      state.settings = data.widget;
      $("#lc-title").textContent = data.widget.title;
      $("header").style.background = launcher.style.background = data.widget.color;
      root.querySelectorAll("form button, .tools button").forEach(function (b) { if (b.parentNode.tagName === "FORM") b.style.background = data.widget.color; });
      if (data.widget.position === "bottom-left") $(".wrap").classList.add("left");
      log.textContent = "";
      if (data.widget.greeting) note(data.widget.greeting);
      data.messages.forEach(render);
      state.name = store("name") || "";
      try { state.answers = JSON.parse(store("answers") || "null"); } catch (e) { state.answers = null; }
      var fields = data.widget.fields || [], fresh = !data.messages.length;
      fieldsInto(prechat.querySelector(".fields"), fields); fieldsInto(offline.querySelector(".fields"), fields);
      var away = fresh && !data.widget.online;
      if (away && data.widget.offline_behaviour === "hide") { launcher.hidden = true; panel.hidden = true; return; }
      var needsForm = !away && fresh && ((data.widget.ask_name && !state.name) || (fields.length > 0 && !state.answers));
      prechat.hidden = !needsForm; offline.hidden = !away; compose.hidden = needsForm || away; tools.hidden = needsForm || away;
      $(".prechat .name").hidden = !data.widget.ask_name; $(".prechat .name input").required = data.widget.ask_name;
      $(".prechat .email").hidden = !data.widget.ask_email;
      if (away) { note(data.widget.offline_text); offline.elements.name.value = state.name; }
      connect();
    }, function (err) { launcher.hidden = true; if (window.console) console.warn("live chat:", err.message); });
  }

  function toggle(open) {
    state.open = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    if (open) { var f = !offline.hidden ? offline.querySelector("input") : prechat.hidden ? compose.querySelector("textarea") : prechat.querySelector("label:not([hidden]) input, label:not([hidden]) select"); if (f) f.focus(); }
    else launcher.focus();
  }
  launcher.addEventListener("click", function () { toggle(!state.open); });
  $(".close").addEventListener("click", function () { toggle(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  prechat.addEventListener("submit", function (e) {
    e.preventDefault();
    state.name = prechat.elements.name.value.trim(); store("name", state.name);
    state.answers = answersOf(prechat); store("answers", JSON.stringify(state.answers));
    prechat.hidden = true; compose.hidden = false; tools.hidden = false;
    compose.querySelector("textarea").focus();
  });
  offline.addEventListener("submit", function (e) {
    e.preventDefault();
    var el = offline.elements, body = { token: state.token, client_id: uid(), name: el.name.value.trim(), email: el.email.value.trim(), text: el.text.value.trim(), fields: answersOf(offline) };
    post("/offline", body).then(function (m) {
      state.name = body.name; store("name", state.name); offline.hidden = true; render(m);
      note("Thanks! We will answer by email at " + body.email + ".");
    }, function (err) { note(err.message, true); });
  });
  var picker = compose.querySelector("input[type=file]");
  compose.querySelector(".attach").addEventListener("click", function () { picker.click(); });
  picker.addEventListener("change", function () { upload(picker.files[0]); picker.value = ""; });
  panel.addEventListener("dragover", function (e) { if (!compose.hidden) { e.preventDefault(); panel.classList.add("drop"); } });
  panel.addEventListener("dragleave", function () { panel.classList.remove("drop"); });
  panel.addEventListener("drop", function (e) { panel.classList.remove("drop"); if (compose.hidden) return; e.preventDefault(); if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]); });
  var lastTyping = 0;
  compose.querySelector("textarea").addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTyping > 2000 && state.socket && state.socket.readyState === 1) { lastTyping = now; state.socket.send(JSON.stringify({ type: "typing" })); }
  });
  compose.querySelector("textarea").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); compose.requestSubmit(); }
  });
  compose.addEventListener("submit", function (e) {
    e.preventDefault();
    var area = compose.querySelector("textarea"), text = area.value.trim();
    if (!text) return;
    area.value = "";
    lastTyping = 0; // the next keystroke starts a new typing hint
    sendMessage(text);
  });
  $(".send-transcript").addEventListener("click", function () {
    var email = tools.querySelector("input").value.trim();
    post("/transcript", { token: state.token, email: email }).then(function () { note("Transcript sent to " + email + "."); }, function (err) { note(err.message, true); });
  });

  function mount() { document.body.appendChild(host); start(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
