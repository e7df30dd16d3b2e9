// The agent desktop. The server is the truth: every (re)connect starts from a full snapshot,
// and a push only says "something changed here", so a lost push costs nothing but a re-read.
(function () {
  "use strict";

  const STATES = [
    { value: "available", label: "Available" },
    { value: "signed_out", label: "Signed out" },
  ];
  const $ = (id) => document.getElementById(id);
  const desk = {
    ws: null,
    attempt: 0,
    requestSeq: 0,
    pending: new Map(),
    snapshot: null,
    clockOffset: 0,
    openId: null,
  };
  window.desk = desk; // for tests and the console

  function esc(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function toast(text, kind) {
    const el = $("toast");
    el.textContent = text;
    el.className = "toast " + (kind || "error");
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
  }

  function setConnection(status, text) {
    const el = $("connection");
    el.className = "connection " + status;
    el.textContent = text;
    document.body.dataset.connection = status;
  }

  // --- the socket ---------------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/desktop/");
    desk.ws = ws;
    setConnection("connecting", desk.attempt ? "Reconnecting…" : "Connecting…");
    ws.onopen = () => { desk.attempt = 0; setConnection("online", "Connected"); };
    ws.onmessage = (frame) => {
      let message;
      try { message = JSON.parse(frame.data); } catch (e) { return; }
      receive(message);
    };
    ws.onclose = (event) => {
      desk.ws = null;
      for (const [, waiter] of desk.pending) waiter.reject(new Error("connection lost"));
      desk.pending.clear();
      if (event.code === 4401) { location.href = "/accounts/login/?next=/desktop/"; return; }
      if (event.code === 4403) { setConnection("offline", "Not an agent in this tenant"); return; }
      // Exponential backoff with jitter, capped at 30 s.
      const delay = Math.min(30000, 500 * 2 ** desk.attempt) * (0.75 + Math.random() / 2);
      desk.attempt += 1;
      setConnection("offline", "Connection lost — reconnecting in " + Math.ceil(delay / 1000) + " s");
      setTimeout(connect, delay);
    };
  }

  function send(action, params) {
    return new Promise((resolve, reject) => {
      if (!desk.ws || desk.ws.readyState !== WebSocket.OPEN) {
        reject(new Error("not connected: try again in a moment"));
        return;
      }
      const requestId = String(++desk.requestSeq);
      desk.pending.set(requestId, { resolve, reject });
      desk.ws.send(JSON.stringify({ action, params: params || {}, request_id: requestId }));
    });
  }
  desk.send = send;
  desk.toast = (text, kind) => toast(text, kind);

  // Other scripts (alerts, panes, collaboration) follow the desktop through these events.
  function announce(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail }));
  }

  function act(action, params) {
    return send(action, params).catch((err) => { toast(err.message); throw err; });
  }

  function receive(message) {
    if (message.type === "snapshot") { applySnapshot(message.data); return; }
    if (message.type === "reply") {
      const waiter = desk.pending.get(message.request_id);
      if (!waiter) return;
      desk.pending.delete(message.request_id);
      if (message.ok) waiter.resolve(message.data);
      else waiter.reject(new Error(message.error));
      return;
    }
    if (message.type === "event") onEvent(message.event, message.payload || {});
  }

  function resync() {
    return send("sync").then(applySnapshot).catch(() => {});
  }

  function onEvent(event, payload) {
    if (event === "conversation.variables") { refreshVariables(payload); return; }
    if (event === "conversation.typing") {
      // The customer is typing (live chat, Apple): a hint in the open conversation's header for a few seconds.
      const head = payload.conversation_id === desk.openId && document.querySelector(".conversation-head");
      if (!head) return;
      let hint = head.querySelector(".typing-hint");
      if (!hint) {
        hint = document.createElement("span");
        hint.className = "typing-hint muted";
        hint.setAttribute("aria-live", "polite");
        head.appendChild(hint);
      }
      hint.textContent = "typing…";
      clearTimeout(desk.typingTimer);
      desk.typingTimer = setTimeout(() => { hint.textContent = ""; }, 4000);
      return;
    }
    if (event === "routing.offered" && desk.snapshot) {
      const offers = desk.snapshot.offers.filter((o) => o.offer_id !== payload.offer_id);
      offers.push(payload);
      desk.snapshot.offers = offers;
      renderOffers();
      announce("desk:offer", payload);
      announce("desk:changed", desk.snapshot);
      return;
    }
    if (event === "routing.agent_state" && desk.snapshot) {
      desk.snapshot.state = { state: payload.state, idle_code_id: payload.idle_code_id, since: payload.state_since };
      renderState();
      return;
    }
    if (event === "conversation.note" && payload.conversation_id === desk.openId) {
      openConversation(desk.openId, { keepScroll: true });
    }
    if (event === "routing.accepted" && payload.auto_accepted && !desk.openId) {
      resync().then(() => openConversation(payload.conversation_id));
      announce("desk:auto-accepted", payload);
      return;
    }
    if (event === "message.new" || event === "message.status" || event === "message.attachments") {
      if (payload.conversation_id === desk.openId) openConversation(desk.openId, { keepScroll: false });
    }
    if (event === "conversation.transferred") {
      toast(payload.message || "A supervisor moved a conversation.", "info");
      if (payload.conversation_id === desk.openId && payload.agent_id !== payload.to_agent_id) {
        desk.openId = null;
        $("panel").innerHTML = '<p class="placeholder">A supervisor moved this conversation.</p>';
      }
    }
    if (event === "conversation.closed" && payload.conversation_id === desk.openId) {
      desk.openId = null;
      $("panel").innerHTML = '<p class="placeholder">The conversation was closed.</p>';
    }
    resync();
  }

  // --- rendering -----------------------------------------------------------------------------
  function applySnapshot(data) {
    desk.snapshot = data;
    if (data.server_time) desk.clockOffset = Date.parse(data.server_time) - Date.now();
    renderState();
    renderOffers();
    renderConversations();
    if (desk.openId && !data.conversations.some((c) => c.id === desk.openId)) {
      desk.openId = null;
      $("panel").innerHTML = '<p class="placeholder">Accept an offer or choose a conversation.</p>';
      announce("desk:closed-panel", null);
    } else if (desk.openId) {
      openConversation(desk.openId, { keepScroll: true });
    }
    announce("desk:changed", data);
  }

  function renderState() {
    const select = $("state-select");
    const { state, idle_code_id: idleCodeId } = desk.snapshot.state;
    const options = STATES.map((s) => ({ ...s }));
    for (const code of desk.snapshot.idle_codes) options.push({ value: "idle:" + code.id, label: "Idle — " + code.name });
    if (state === "rona") options.unshift({ value: "rona", label: "RONA — choose Available to get offers again" });
    select.innerHTML = options.map((o) => '<option value="' + esc(o.value) + '">' + esc(o.label) + "</option>").join("");
    select.value = state === "idle" ? "idle:" + idleCodeId : state;
    const badge = $("state-badge");
    badge.textContent = state === "rona" ? "RONA" : state.replace("_", " ");
    badge.className = "badge state-" + state;
    document.body.dataset.agentState = state;
  }

  function renderOffers() {
    const list = $("offers");
    const offers = desk.snapshot.offers;
    if (!offers.length) { list.innerHTML = '<li class="empty">No offers</li>'; return; }
    list.innerHTML = offers.map((o) =>
      '<li class="offer" data-offer-id="' + o.offer_id + '">' +
      '<div><strong>' + esc(o.customer_name) + '</strong> <span class="channel channel-' + esc(o.channel_kind) + '">' + esc(o.channel_name || o.channel_kind) + "</span></div>" +
      '<div class="muted small">' + esc(o.queue_name) + " · waiting <span data-since=\"" + esc(o.enqueued_at) + '"></span></div>' +
      '<div class="preview">' + esc(o.preview) + "</div>" +
      '<div class="countdown" data-expires="' + esc(o.expires_at) + '"></div>' +
      (o.transferred_by ? '<div class="small">Transferred by ' + esc(o.transferred_by) + "</div>" : "") +
      '<div class="actions"><button class="accept" data-offer="' + o.offer_id + '" aria-label="Accept ' + esc(o.customer_name) + '">Accept</button>' +
      '<button class="decline secondary" data-offer="' + o.offer_id + '" aria-label="Decline ' + esc(o.customer_name) + '">Decline</button></div></li>'
    ).join("");
    tick();
  }

  function renderConversations() {
    const list = $("conversations");
    const conversations = desk.snapshot.conversations;
    if (!conversations.length) { list.innerHTML = '<li class="empty">None yet</li>'; return; }
    list.innerHTML = conversations.map((c) =>
      '<li class="conversation-item' + (c.id === desk.openId ? " open" : "") + '" data-conversation="' + c.id + '" tabindex="0">' +
      '<div><strong>' + esc(c.customer_name) + '</strong> <span class="channel channel-' + esc(c.kind) + '">' + esc(c.kind_label) + "</span>" +
      (c.unread ? ' <span class="unread" title="unread">' + c.unread + '<span class="visually-hidden"> unread</span></span>' : "") + "</div>" +
      '<div class="preview muted">' + esc(c.preview) + "</div>" +
      (c.waiting_since ? '<div class="waiting">Waiting <span data-since="' + esc(c.waiting_since) + '"></span></div>' : "") + "</li>"
    ).join("");
    tick();
  }

  function tick() {
    const now = Date.now() + desk.clockOffset;
    for (const el of document.querySelectorAll("[data-expires]")) {
      const left = Math.max(0, Math.round((Date.parse(el.dataset.expires) - now) / 1000));
      el.textContent = left ? "Answer within " + left + " s" : "Expiring…";
      el.classList.toggle("urgent", left <= 5);
    }
    for (const el of document.querySelectorAll("[data-since]")) {
      const waited = Math.max(0, Math.round((now - Date.parse(el.dataset.since)) / 1000));
      el.textContent = waited < 120 ? waited + " s" : Math.round(waited / 60) + " min";
    }
  }

  function openConversation(id, options) {
    const panel = $("panel");
    desk.openId = id;
    return fetch("/desktop/conversations/" + id + "/", { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error("could not load the conversation (" + r.status + ")"); return r.text(); })
      .then((html) => {
        if (desk.openId !== id) return;
        // Decided when the answer arrives: another load may have shown this conversation meanwhile.
        const current = panel.querySelector(".conversation");
        const same = current && Number(current.dataset.conversationId) === id;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        const oldTranscript = panel.querySelector("#transcript");
        if (same && oldTranscript) {
          // Same conversation: refresh the transcript only, so a draft, a chosen wrap-up code
          // or a variable being edited survive a push.
          const atBottom = oldTranscript.scrollHeight - oldTranscript.scrollTop - oldTranscript.clientHeight < 40;
          const keep = oldTranscript.scrollTop;
          oldTranscript.innerHTML = fresh.querySelector("#transcript").innerHTML;
          oldTranscript.scrollTop = atBottom || !(options && options.keepScroll) ? oldTranscript.scrollHeight : keep;
          restoreImages(oldTranscript);
        } else {
          panel.innerHTML = html;
          const t = panel.querySelector("#transcript");
          if (t) { restoreImages(t); t.scrollTop = t.scrollHeight; }
        }
        for (const item of document.querySelectorAll(".conversation-item")) {
          item.classList.toggle("open", Number(item.dataset.conversation) === id);
        }
        announce("desk:opened", { id, fresh: !same });
        const entry = desk.snapshot && desk.snapshot.conversations.find((c) => c.id === id);
        if (entry && entry.unread) send("mark_seen", { conversation_id: id }).then(resync).catch(() => {});
      })
      .catch((err) => toast(err.message));
  }

  // A flow set variables (a customer's answer, say): re-read the open conversation's panel and
  // swap in the fresh values, except the one the agent is editing right now.
  function refreshVariables(payload) {
    const id = desk.openId;
    if (!id || payload.conversation_id !== id) return;
    fetch("/desktop/conversations/" + id + "/", { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error("could not load the variables (" + r.status + ")"); return r.text(); })
      .then((html) => {
        const current = $("variables-panel");
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("variables-panel");
        if (desk.openId !== id || !current || !fresh) return;
        const active = current.contains(document.activeElement) ? document.activeElement : null;
        const editing = active && active.closest("[data-variable-name]");
        if (!editing) {
          current.innerHTML = fresh.innerHTML;
        } else {
          for (const label of fresh.querySelectorAll("[data-variable-name]")) {
            const old = current.querySelector('[data-variable-name="' + CSS.escape(label.dataset.variableName) + '"]');
            if (old && old !== editing) old.replaceWith(document.importNode(label, true));
          }
        }
        for (const name of payload.names || []) {
          const label = current.querySelector('[data-variable-name="' + CSS.escape(name) + '"]');
          if (label && label !== editing) label.classList.add("updated");
        }
      })
      .catch((err) => toast(err.message));
  }

  function parseVariable(input) {
    const type = input.dataset.type;
    const raw = input.value;
    if (type === "number") return raw === "" ? null : Number(raw);
    if (type === "boolean") return raw === "true";
    if (type === "json") { try { return JSON.parse(raw); } catch (e) { return raw; } }
    return raw;
  }

  // --- user actions --------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const accept = event.target.closest("button.accept");
    if (accept) {
      accept.disabled = true;
      act("accept_offer", { offer_id: Number(accept.dataset.offer) })
        .then((data) => resync().then(() => openConversation(data.conversation_id)))
        .catch(() => resync());
      return;
    }
    const decline = event.target.closest("button.decline");
    if (decline) {
      decline.disabled = true;
      act("decline_offer", { offer_id: Number(decline.dataset.offer) }).finally(resync);
      return;
    }
    const item = event.target.closest(".conversation-item");
    if (item && item.dataset.conversation) openConversation(Number(item.dataset.conversation));
  });
  // The list items are reachable by keyboard: Enter or Space opens one.
  document.addEventListener("keydown", (event) => {
    const item = event.target.closest && event.target.closest(".conversation-item");
    if (item && item.dataset.conversation && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openConversation(Number(item.dataset.conversation));
    }
  });
  desk.openConversation = (id) => openConversation(id);
  desk.resync = () => resync();

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id === "composer" && form.dataset.emailUrl) {
      event.preventDefault();
      sendEmail(form);
    } else if (form.id === "composer") {
      event.preventDefault();
      const box = form.querySelector("textarea");
      const text = box.value.trim();
      if (!text) return;
      form.querySelector("button").disabled = true;
      act("send_message", { conversation_id: desk.openId, text })
        .then(() => { box.value = ""; return openConversation(desk.openId); })
        .catch(() => {})
        .finally(() => { const b = form.querySelector("button"); if (b) b.disabled = false; });
    } else if (form.id === "close-form") {
      event.preventDefault();
      const code = form.querySelector("select").value;
      if (!code) { toast("Choose a wrap-up code first."); return; }
      act("close_conversation", { conversation_id: desk.openId, wrap_up_code_id: Number(code) })
        .then(() => {
          desk.openId = null;
          $("panel").innerHTML = '<p class="placeholder">Conversation closed.</p>';
          announce("desk:closed-panel", null);
          return resync();
        })
        .catch(() => {});
    } else if (form.id === "variables") {
      event.preventDefault();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && event.target.matches("#composer textarea")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "state-select") {
      const value = target.value;
      const params = value.startsWith("idle:")
        ? { state: "idle", idle_code_id: Number(value.slice(5)) }
        : { state: value };
      act("set_state", params).then(resync).catch(resync);
    } else if (target.dataset.variable) {
      act("set_variable", { conversation_id: desk.openId, name: target.dataset.variable, value: parseVariable(target) })
        .then(() => { target.classList.remove("invalid"); target.classList.add("saved"); })
        .catch(() => target.classList.add("invalid"));
    }
  });

  // --- the composer: files (picker, drop, paste) and WhatsApp templates -----------------------
  function humanBytes(n) {
    if (n >= 1024 * 1024) return (n / 1024 / 1024).toFixed(1).replace(/\.0$/, "") + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " bytes";
  }

  function typeAllowed(accept, type) {
    if (!accept) return true;
    if (!type) return true; // the browser does not know: the server decides by the bytes
    return accept.split(",").map((a) => a.trim().toLowerCase()).filter(Boolean).some((a) =>
      a === type.toLowerCase() || (a.endsWith("/*") && type.toLowerCase().startsWith(a.slice(0, -1))) ||
      (!a.includes("/") && type.toLowerCase().startsWith(a + "/")));
  }

  // Why a file cannot go, told before any byte leaves the browser; null when it may.
  function fileRefusal(form, file) {
    const max = Number(form.dataset.maxBytes || 0);
    const channel = form.dataset.channel || "this channel";
    if (!file.size) return file.name + " is empty.";
    if (max && file.size > max) {
      return file.name + " is " + humanBytes(file.size) + "; " + channel + " takes files up to " + humanBytes(max) + ".";
    }
    if (!typeAllowed(form.dataset.accept, file.type)) {
      return file.name + " (" + file.type + ") is a type " + channel + " does not take here.";
    }
    return null;
  }

  function uploadFile(form, file) {
    const refusal = fileRefusal(form, file);
    if (refusal) { toast(refusal); return Promise.resolve(false); }
    const bar = form.querySelector(".upload-progress");
    const progress = bar.querySelector("progress");
    const label = bar.querySelector(".upload-label");
    const body = new FormData();
    body.append("file", file, file.name || "pasted-image.png");
    const box = form.querySelector("textarea");
    const caption = box && !box.disabled ? box.value.trim() : "";
    if (caption) body.append("caption", caption);
    bar.hidden = false;
    progress.value = 0;
    label.textContent = "Uploading " + (file.name || "image") + "…";
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
      };
      xhr.onload = () => {
        bar.hidden = true;
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
        if (xhr.status === 201) {
          if (caption) box.value = "";
          openConversation(desk.openId);
          resolve(true);
        } else {
          toast((file.name || "The file") + " was not sent: " + (data.error || "HTTP " + xhr.status));
          resolve(false);
        }
      };
      xhr.onerror = () => { bar.hidden = true; toast("The upload failed: check the connection."); resolve(false); };
      xhr.send(body);
    });
  }
  desk.uploadFile = uploadFile;

  async function uploadFiles(files) {
    const form = $("composer");
    if (!form) return;
    if (form.classList.contains("window-closed")) {
      toast("Files cannot be sent now: the WhatsApp window is closed, send a template.");
      return;
    }
    if (form.classList.contains("no-files")) {
      toast("Files cannot be sent: no malware scanner is configured (CLAMD_SOCKET).");
      return;
    }
    for (const file of files) await uploadFile(form, file);
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("#composer input[type=file]")) {
      const files = Array.from(event.target.files || []);
      event.target.value = "";
      uploadFiles(files);
    }
  });

  document.addEventListener("dragover", (event) => {
    const panel = event.target.closest && event.target.closest(".conversation");
    if (!panel || !event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    panel.classList.add("dropping");
  });
  document.addEventListener("dragleave", (event) => {
    const panel = event.target.closest && event.target.closest(".conversation");
    if (panel && !panel.contains(event.relatedTarget)) panel.classList.remove("dropping");
  });
  document.addEventListener("drop", (event) => {
    const panel = event.target.closest && event.target.closest(".conversation");
    if (!panel || !event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    panel.classList.remove("dropping");
    uploadFiles(Array.from(event.dataTransfer.files));
  });
  // The customer sees "typing" where the channel can show it; at most one hint every 3 s from
  // here, and the server keeps to its own interval per conversation whoever types.
  let lastTyping = 0;
  document.addEventListener("input", (event) => {
    if (!event.target.matches || !event.target.matches("#composer textarea") || !desk.openId) return;
    if (Date.now() - lastTyping < 3000) return;
    lastTyping = Date.now();
    send("typing", { conversation_id: desk.openId }).catch(() => {});
  });
  document.addEventListener("paste", (event) => {
    if (!event.target.matches || !event.target.matches("#composer textarea")) return;
    const files = Array.from((event.clipboardData && event.clipboardData.files) || []).filter((f) => f.type.startsWith("image/"));
    if (!files.length) return; // plain text pastes as usual
    event.preventDefault();
    uploadFiles(files);
  });

  const templates = { list: [] };

  function loadTemplates(picker, refresh) {
    const select = picker.querySelector("#template-select");
    return fetch(picker.dataset.url + (refresh ? "?refresh=1" : ""), { credentials: "same-origin" })
      .then((r) => r.json().then((data) => { if (!r.ok) throw new Error(data.error || "HTTP " + r.status); return data; }))
      .then((data) => {
        templates.list = data.templates;
        if (data.problem) toast(data.problem);
        select.innerHTML = '<option value="">' + (data.templates.length ? "Choose a template…" : "No approved templates") + "</option>" +
          data.templates.map((t, i) => '<option value="' + i + '">' + esc(t.name) + " · " + esc(t.language) + " · " + esc(t.category.toLowerCase()) + "</option>").join("");
        showTemplate(picker);
      })
      .catch((err) => toast("Templates: " + err.message));
  }

  function showTemplate(picker) {
    const chosen = templates.list[Number(picker.querySelector("#template-select").value)];
    const params = picker.querySelector(".template-params");
    const send = picker.querySelector(".template-send");
    picker.querySelector(".template-body").textContent = chosen ? chosen.body : "";
    params.innerHTML = "";
    if (!chosen || picker.querySelector("#template-select").value === "") { send.disabled = true; return; }
    for (let i = 1; i <= chosen.parameters; i += 1) {
      params.insertAdjacentHTML("beforeend",
        '<label>{{' + i + '}} <input name="p' + i + '" data-param="' + i + '" required maxlength="1024"></label>');
    }
    send.disabled = false;
  }

  function togglePicker(show) {
    const picker = $("template-picker");
    if (!picker) return;
    picker.hidden = !show;
    const toggle = document.querySelector(".template-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", String(show));
    if (show && !picker.dataset.loaded) { picker.dataset.loaded = "1"; loadTemplates(picker, false); }
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest(".template-toggle")) { togglePicker($("template-picker").hidden); return; }
    if (event.target.closest(".template-refresh")) { loadTemplates($("template-picker"), true); return; }
    const sendButton = event.target.closest(".template-send");
    if (!sendButton) return;
    const picker = $("template-picker");
    const chosen = templates.list[Number(picker.querySelector("#template-select").value)];
    if (!chosen) return;
    const inputs = Array.from(picker.querySelectorAll("[data-param]"));
    const empty = inputs.find((input) => !input.value.trim());
    if (empty) { toast("Fill in parameter {{" + empty.dataset.param + "}} first."); empty.focus(); return; }
    sendButton.disabled = true;
    act("send_template", {
      conversation_id: desk.openId, name: chosen.name, language: chosen.language,
      parameters: inputs.map((input) => input.value.trim()),
    })
      .then(() => { for (const input of inputs) input.value = ""; return openConversation(desk.openId); })
      .catch(() => {})
      .finally(() => { sendButton.disabled = false; });
  });

  document.addEventListener("change", (event) => {
    if (event.target.id === "template-select") showTemplate($("template-picker"));
  });

  // A conversation opened with its WhatsApp window closed shows the picker at once.
  new MutationObserver(() => {
    const picker = $("template-picker");
    if (picker && !picker.hidden && !picker.dataset.loaded) togglePicker(true);
  }).observe($("panel"), { childList: true });

  // --- email: the formatted composer and remote images on request --------------------------
  function sendEmail(form) {
    const editor = form.querySelector(".email-editor");
    const cc = form.querySelector(".email-cc-input");
    if (!editor.textContent.trim()) { toast("Write the mail first."); editor.focus(); return; }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.dataset.emailUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify({
        html: editor.innerHTML,
        subject: form.querySelector(".email-subject-input").value,
        cc: cc.value,
      }),
    })
      .then((r) => r.json().catch(() => ({})).then((data) => {
        if (r.status !== 201) throw new Error(data.error || "HTTP " + r.status);
        return data;
      }))
      .then(() => {
        editor.innerHTML = "";
        cc.value = "";
        cc.classList.remove("invalid");
        return openConversation(desk.openId);
      })
      .catch((err) => {
        if (/^Cc\b/.test(err.message)) { cc.classList.add("invalid"); cc.focus(); }
        toast("The mail was not sent: " + err.message);
      })
      .finally(() => { button.disabled = false; });
  }

  // Buttons keep the editor's selection: they act on mousedown's target without taking focus.
  document.addEventListener("mousedown", (event) => {
    if (event.target.closest(".email-toolbar button")) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const format = event.target.closest(".email-toolbar [data-format]");
    if (format) {
      const editor = document.querySelector("#composer .email-editor");
      if (!editor) return;
      editor.focus();
      const command = format.dataset.format;
      if (command === "createLink") {
        const input = document.querySelector("#composer .email-link-url");
        const url = input.value.trim();
        if (!/^(https?:\/\/|mailto:)[^\s"'<>]+$/i.test(url)) { toast("A link needs an http(s):// or mailto: address."); input.focus(); return; }
        const selection = window.getSelection();
        if (!selection.rangeCount || selection.isCollapsed || !editor.contains(selection.anchorNode)) {
          document.execCommand("insertHTML", false, '<a href="' + esc(url) + '">' + esc(url) + "</a>");
        } else {
          document.execCommand("createLink", false, url);
        }
        input.value = "";
        return;
      }
      document.execCommand(command, false, null);
      return;
    }
    const show = event.target.closest("button.show-images");
    if (show) {
      const mail = show.closest(".email");
      desk.imagesShown.add(mail.dataset.messageId);
      showImages(mail);
    }
  });

  desk.imagesShown = new Set();

  function showImages(mail) {
    const button = mail.querySelector("button.show-images");
    if (!button) return;
    for (const held of mail.querySelectorAll(".email-image-held[data-src]")) {
      const img = document.createElement("img");
      img.className = "email-remote-image";
      img.alt = held.textContent.replace(/^\[|\]$/g, "");
      img.src = button.dataset.url + "?src=" + encodeURIComponent(held.dataset.src);
      held.replaceWith(img);
    }
    button.closest(".email-note").hidden = true;
  }

  function restoreImages(transcript) {
    for (const id of desk.imagesShown) {
      const mail = transcript.querySelector('.email[data-message-id="' + CSS.escape(id) + '"]');
      if (mail) showImages(mail);
    }
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches("#composer .email-cc-input")) event.target.classList.remove("invalid");
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.closest && event.target.closest("#composer .email-editor")) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });

  // Apple Messages: the rich message builder (a list picker, quick replies or a time picker: a
  // title and its items; a rich link: a title and its URL), sent as one rich message.
  function richKindShow(builder) {
    const kind = builder.querySelector('[name="rich-kind"]').value;
    builder.querySelector(".rich-url").hidden = kind !== "rich_link";
    builder.querySelector(".list-items").hidden = kind === "rich_link";
    builder.querySelector(".list-item-add").hidden = kind === "rich_link";
    for (const input of builder.querySelectorAll('[name="list-item"]')) input.type = kind === "time_picker" ? "datetime-local" : "text";
  }
  document.addEventListener("change", (event) => {
    const builder = event.target.matches('[name="rich-kind"]') && event.target.closest("#list-picker-builder");
    if (builder) richKindShow(builder);
  });
  document.addEventListener("click", (event) => {
    const builder = $("list-picker-builder");
    if (!builder) return;
    if (event.target.closest(".list-picker-toggle")) {
      builder.hidden = !builder.hidden;
      event.target.closest(".list-picker-toggle").setAttribute("aria-expanded", String(!builder.hidden));
      return;
    }
    if (event.target.closest(".list-item-add")) {
      const list = builder.querySelector(".list-items");
      const n = list.children.length + 1;
      list.insertAdjacentHTML("beforeend", '<li><input name="list-item" maxlength="85" aria-label="Item ' + n + '"></li>');
      richKindShow(builder);
      return;
    }
    const sendButton = event.target.closest(".list-picker-send");
    if (!sendButton) return;
    const kind = builder.querySelector('[name="rich-kind"]').value;
    const title = builder.querySelector('[name="list-title"]').value.trim();
    const items = Array.from(builder.querySelectorAll('[name="list-item"]'))
      .map((input) => input.value.trim()).filter(Boolean)
      .map((text) => ({ title: kind === "time_picker" ? new Date(text).toISOString() : text }));
    const params = { conversation_id: desk.openId, type: kind, title };
    if (kind === "rich_link") params.url = builder.querySelector('[name="rich-url"]').value.trim();
    else params.items = items;
    if (!title) { toast("Give the message a title."); return; }
    if (kind !== "rich_link" && !items.length) { toast("Add at least one item."); return; }
    sendButton.disabled = true;
    act("send_rich_message", params)
      .then(() => openConversation(desk.openId))
      .catch(() => {})
      .finally(() => { sendButton.disabled = false; });
  });

  setInterval(tick, 250);
  connect();
})();
