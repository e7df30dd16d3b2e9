// The customer panel (profile, addresses, earlier conversations, linking records) and the
// composer's canned responses ("/" opens a picker filtered as you type). The server renders and
// checks everything; this file only loads fragments, posts JSON and moves the keyboard focus.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);

  function notify(text, kind) {
    const el = $("toast");
    if (!el) return;
    el.textContent = text;
    el.className = "toast " + (kind || "error");
    el.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => { el.hidden = true; }, 5000);
  }

  function csrf() {
    const input = document.querySelector("#composer input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {}),
    }).then((r) => r.json().catch(() => ({})).then((data) => {
      if (!r.ok) throw new Error(data.error || "HTTP " + r.status);
      return data;
    }));
  }

  function getText(url) {
    return fetch(url, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  }

  // --- the customer panel --------------------------------------------------------------------
  function loadPanel(force) {
    const panel = $("customer-panel");
    if (!panel || (panel.dataset.loaded && !force)) return Promise.resolve();
    panel.dataset.loaded = "1";
    return getText(panel.dataset.url)
      .then((html) => { if (panel.isConnected) panel.innerHTML = html; })
      .catch((err) => { panel.dataset.loaded = ""; notify("Customer profile: " + err.message); });
  }

  // The list shows the customer's name and canned texts may hold it: re-read both. A link or an
  // undo changes what the panel lists, so it is rendered again; a saved profile is already shown.
  function profileChanged(rerender) {
    if (window.desk && window.desk.send) window.desk.send("sync").catch(() => {});
    canned.conversation = null;
    return rerender ? loadPanel(true) : Promise.resolve();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id === "customer-profile") {
      event.preventDefault();
      const tags = form.elements.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
      const status = form.querySelector(".customer-saved");
      postJson(form.dataset.url, {
        display_name: form.elements.display_name.value,
        notes: form.elements.notes.value,
        tags,
      })
        .then(() => { profileChanged(false); status.textContent = "Saved."; })
        .catch((err) => { status.textContent = ""; notify("The profile was not saved: " + err.message); });
    } else if (form.id === "customer-link-form") {
      event.preventDefault();
      postJson(form.dataset.url, { address: form.elements.address.value, kind: form.elements.kind.value })
        .then((data) => {
          notify("Linked: " + data.identities + " address(es) and " + data.conversations + " conversation(s) moved here.", "info");
          profileChanged(true);
        })
        .catch((err) => notify("Not linked: " + err.message));
    }
  });

  document.addEventListener("click", (event) => {
    const open = event.target.closest(".history-open");
    if (open) {
      const view = $("customer-history-view");
      getText(open.dataset.url)
        .then((html) => {
          view.innerHTML = html;
          view.hidden = false;
          view.dataset.url = open.dataset.url;
          view.focus();
        })
        .catch((err) => notify("Transcript: " + err.message));
      return;
    }
    if (event.target.closest(".history-close")) {
      const view = $("customer-history-view");
      view.hidden = true;
      view.innerHTML = "";
      const opener = document.querySelector('.history-open[data-url="' + CSS.escape(view.dataset.url || "") + '"]');
      if (opener) opener.focus();
      return;
    }
    const undo = event.target.closest(".merge-undo");
    if (undo) {
      undo.disabled = true;
      postJson(undo.dataset.url)
        .then(() => { notify("The link was undone.", "info"); profileChanged(true); })
        .catch((err) => { undo.disabled = false; notify("Not undone: " + err.message); });
    }
  });

  // A newly opened conversation brings an empty panel: fill it.
  function watchPanel() {
    const root = $("panel");
    if (!root) return;
    new MutationObserver(() => loadPanel(false)).observe(root, { childList: true });
    loadPanel(false);
  }

  // --- canned responses ----------------------------------------------------------------------
  const canned = { list: [], shown: [], active: 0, conversation: null, box: null, start: -1 };

  function pickerEl() {
    let el = $("canned-picker");
    const composer = $("composer");
    if (!composer) return null;
    if (!el || !composer.contains(el)) {
      el = document.createElement("ul");
      el.id = "canned-picker";
      el.className = "canned-picker";
      el.setAttribute("role", "listbox");
      el.setAttribute("aria-label", "Canned responses");
      el.hidden = true;
      composer.appendChild(el);
    }
    return el;
  }

  function conversationId() {
    const c = document.querySelector(".conversation[data-conversation-id]");
    return c ? Number(c.dataset.conversationId) : null;
  }

  function fetchCanned(id) {
    return fetch("/desktop/conversations/" + id + "/canned/", { credentials: "same-origin" })
      .then((r) => r.json().then((data) => { if (!r.ok) throw new Error(data.error || "HTTP " + r.status); return data; }))
      .then((data) => { canned.list = data.responses; canned.conversation = id; });
  }

  // The "/word" being typed just before the caret, or null.
  function query(box) {
    const upto = box.value.slice(0, box.selectionStart);
    const match = /(^|\s)\/([\w-]*)$/.exec(upto);
    if (!match) return null;
    return { start: upto.length - match[2].length - 1, text: match[2].toLowerCase() };
  }

  function closePicker() {
    const el = $("canned-picker");
    if (el) { el.hidden = true; el.innerHTML = ""; }
    if (canned.box) {
      canned.box.removeAttribute("aria-activedescendant");
    }
    canned.shown = [];
  }

  function render() {
    const el = pickerEl();
    if (!el) return;
    if (!canned.shown.length) {
      el.innerHTML = '<li class="canned-empty muted" role="option" aria-disabled="true" aria-selected="false">No canned response matches</li>';
      el.hidden = false;
      return;
    }
    el.innerHTML = "";
    canned.shown.forEach((r, i) => {
      const li = document.createElement("li");
      li.id = "canned-option-" + r.id;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === canned.active));
      li.dataset.index = String(i);
      const head = document.createElement("span");
      head.className = "canned-shortcut";
      head.textContent = "/" + r.shortcut;
      const title = document.createElement("span");
      title.className = "canned-title";
      title.textContent = " " + r.title + (r.team ? " · " + r.team : "");
      const text = document.createElement("span");
      text.className = "canned-text muted";
      text.textContent = r.text;
      li.append(head, title, text);
      el.appendChild(li);
    });
    el.hidden = false;
    const active = canned.shown[canned.active];
    canned.box.setAttribute("aria-controls", "canned-picker");
    canned.box.setAttribute("aria-activedescendant", "canned-option-" + active.id);
    const activeEl = $("canned-option-" + active.id);
    if (activeEl && activeEl.scrollIntoView) activeEl.scrollIntoView({ block: "nearest" });
  }

  function update(box) {
    const q = query(box);
    if (!q) { closePicker(); return; }
    canned.box = box;
    canned.start = q.start;
    const id = conversationId();
    const ready = canned.conversation === id ? Promise.resolve() : fetchCanned(id);
    ready.then(() => {
      const again = query(box);
      if (!again) { closePicker(); return; }
      canned.shown = canned.list.filter((r) =>
        r.shortcut.toLowerCase().startsWith(again.text) || r.title.toLowerCase().includes(again.text));
      canned.active = Math.min(canned.active, Math.max(0, canned.shown.length - 1));
      render();
    }).catch((err) => notify("Canned responses: " + err.message));
  }

  function choose(index) {
    const r = canned.shown[index];
    const box = canned.box;
    if (!r || !box) return;
    const before = box.value.slice(0, canned.start);
    const after = box.value.slice(box.selectionStart);
    box.value = before + r.text + after;
    const caret = before.length + r.text.length;
    box.setSelectionRange(caret, caret);
    closePicker();
    box.focus();
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches("#composer textarea")) {
      canned.active = 0;
      update(event.target);
    }
  });

  // Capture phase: while the picker is open, Enter chooses instead of sending.
  document.addEventListener("keydown", (event) => {
    const el = $("canned-picker");
    if (!el || el.hidden || !event.target.matches || !event.target.matches("#composer textarea")) return;
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closePicker(); return; }
    if (!canned.shown.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const n = canned.shown.length;
      canned.active = (canned.active + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopPropagation();
      choose(canned.active);
    }
  }, true);

  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest("#canned-picker [role=option][data-index]");
    if (!option) return;
    event.preventDefault(); // keep the focus (and the caret) in the composer
    choose(Number(option.dataset.index));
  });

  document.addEventListener("focusout", (event) => {
    if (event.target.matches && event.target.matches("#composer textarea")) setTimeout(() => {
      if (document.activeElement !== event.target) closePicker();
    }, 150);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watchPanel);
  else watchPanel();
})();
