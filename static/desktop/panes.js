// Panes on a narrow screen (list, conversation, details: one at a time, switched by the bar at the
// top), the conversation finder (filters, search, pages), transfer and internal notes.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const body = document.body;

  function esc(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  // --- panes -----------------------------------------------------------------------------------
  function showPane(name, focus) {
    body.dataset.pane = name;
    for (const button of document.querySelectorAll("[data-pane-target]")) {
      const current = button.dataset.paneTarget === name;
      button.setAttribute("aria-pressed", current ? "true" : "false");
    }
    if (!focus) return;
    const target = name === "list" ? $("sidebar") : name === "details" ? $("details") : $("panel");
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: false });
    }
  }
  window.deskPanes = { show: showPane };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-pane-target]");
    if (button) showPane(button.dataset.paneTarget, true);
  });
  document.addEventListener("desk:opened", (event) => { if (event.detail.fresh) showPane("conversation", false); });
  document.addEventListener("desk:closed-panel", () => showPane("list", false));
  document.addEventListener("desk:changed", (event) => {
    const s = event.detail;
    const n = s.offers.length + s.conversations.filter((c) => c.unread > 0).length;
    $("pane-count").textContent = n ? "(" + n + ")" : "";
  });
  showPane("list", false);

  // --- the finder ------------------------------------------------------------------------------
  const finder = { page: 1, pages: 1 };
  function find(page) {
    const form = $("finder");
    const params = new URLSearchParams({ filter: form.filter.value, q: form.q.value.trim(), page: String(page) });
    return fetch("/desktop/conversations/?" + params, { credentials: "same-origin" })
      .then((r) => r.json().then((data) => { if (!r.ok) throw new Error(data.error || r.status); return data; }))
      .then((data) => {
        finder.page = data.page;
        finder.pages = data.pages;
        const list = $("finder-results");
        list.innerHTML = data.conversations.length ? data.conversations.map((c) =>
          "<li class=\"conversation-item" + (c.status === "closed" ? " closed" : "") + "\"" +
          (c.mine && c.status === "open" ? " data-conversation=\"" + c.id + "\" tabindex=\"0\"" : "") + ">" +
          "<div><strong>" + esc(c.customer_name) + "</strong> <span class=\"channel channel-" + esc(c.kind) + "\">" +
          esc(c.kind_label) + "</span> <span class=\"muted small\">" + esc(c.status) + "</span></div>" +
          "<div class=\"preview muted\">" + esc(c.preview) + "</div></li>").join("")
          : "<li class=\"empty\">No conversations.</li>";
        $("finder-page").textContent = "Page " + data.page + " of " + data.pages + " · " + data.total + " in all";
        $("finder-prev").disabled = data.page <= 1;
        $("finder-next").disabled = data.page >= data.pages;
      })
      .catch((err) => window.desk.toast("The search failed: " + err.message));
  }
  $("finder").addEventListener("submit", (event) => { event.preventDefault(); find(1); });
  $("finder-filter").addEventListener("change", () => find(1));
  $("finder-prev").addEventListener("click", () => find(finder.page - 1));
  $("finder-next").addEventListener("click", () => find(finder.page + 1));
  window.deskFinder = { find };

  // --- transfer --------------------------------------------------------------------------------
  function openTransfer(toggle) {
    const form = $("transfer-form");
    const show = form.hidden;
    form.hidden = !show;
    toggle.setAttribute("aria-expanded", show ? "true" : "false");
    if (!show) return;
    window.desk.send("transfer_targets", { conversation_id: window.desk.openId })
      .then((data) => {
        form.to_agent_id.innerHTML = "<option value=\"\">— choose an agent —</option>" +
          data.agents.map((a) => "<option value=\"" + a.id + "\">" + esc(a.name) + "</option>").join("");
        form.to_queue_id.innerHTML = "<option value=\"\">— choose a queue —</option>" +
          data.queues.map((q) => "<option value=\"" + q.id + "\">" + esc(q.name) + "</option>").join("");
        if (!data.agents.length) form.to_agent_id.innerHTML = "<option value=\"\">Nobody is available</option>";
        form.to_agent_id.focus();
      })
      .catch((err) => window.desk.toast(err.message));
  }
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest(".transfer-toggle");
    if (toggle) { openTransfer(toggle); return; }
    if (event.target.closest(".transfer-cancel")) {
      $("transfer-form").hidden = true;
      document.querySelector(".transfer-toggle").setAttribute("aria-expanded", "false");
    }
  });
  document.addEventListener("change", (event) => {
    // One target at a time: choosing an agent clears the queue and the other way round.
    const form = event.target.form;
    if (!form || form.id !== "transfer-form") return;
    if (event.target.name === "to_agent_id" && event.target.value) form.to_queue_id.value = "";
    if (event.target.name === "to_queue_id" && event.target.value) form.to_agent_id.value = "";
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id === "transfer-form") {
      event.preventDefault();
      const agentId = form.to_agent_id.value;
      const queueId = form.to_queue_id.value;
      if (!agentId && !queueId) { window.desk.toast("Choose an agent or a queue."); return; }
      const params = { conversation_id: window.desk.openId };
      if (agentId) params.to_agent_id = Number(agentId); else params.to_queue_id = Number(queueId);
      const label = agentId ? form.to_agent_id.selectedOptions[0].textContent : form.to_queue_id.selectedOptions[0].textContent;
      window.desk.send("transfer", params)
        .then(() => {
          window.desk.openId = null;
          $("panel").innerHTML = "<p class=\"placeholder\">Transferred to " + esc(label) + ".</p>";
          window.desk.toast("Transferred to " + label + ".", "info");
          showPane("list", false);
          return window.desk.resync();
        })
        .catch((err) => window.desk.toast(err.message));
    } else if (form.id === "note-form") {
      event.preventDefault();
      const box = form.text;
      const text = box.value.trim();
      if (!text) return;
      window.desk.send("add_note", { conversation_id: window.desk.openId, text })
        .then(() => { box.value = ""; return window.desk.openConversation(window.desk.openId); })
        .catch((err) => window.desk.toast(err.message));
    } else if (form.id === "auto-accept") {
      event.preventDefault();
      const ids = Array.from(form.querySelectorAll("input[name=queue]:checked")).map((i) => Number(i.value));
      window.desk.send("set_preferences", { auto_accept_queue_ids: ids })
        .then(() => window.desk.toast("Auto-accept saved.", "info"))
        .catch((err) => window.desk.toast(err.message));
    }
  });

  // Escape closes the transfer form and the settings; focus goes back to what opened them.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const form = $("transfer-form");
    if (form && !form.hidden) {
      form.hidden = true;
      const toggle = document.querySelector(".transfer-toggle");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
    const settings = document.querySelector("details.settings[open]");
    if (settings) { settings.open = false; settings.querySelector("summary").focus(); }
  });
})();
