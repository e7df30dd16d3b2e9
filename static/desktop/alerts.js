// Offer alerts: a sound (mutable, remembered on the server for the agent), a browser notification
// when the tab is hidden (permission asked only from the "Enable notifications" button), and the
// tab's title and favicon counting pending offers and unread conversations.
(function () {
  "use strict";

  const body = document.body;
  const baseTitle = document.title;
  const favicon = document.getElementById("favicon");
  const baseIcon = favicon ? favicon.href : "";
  const soundButton = document.getElementById("sound-toggle");
  const notifyButton = document.getElementById("notify-enable");
  const alerts = { muted: body.dataset.soundMuted === "true", played: 0, notified: 0, count: 0 };
  window.deskAlerts = alerts; // for tests and the console

  let audio = null;
  function play() {
    if (alerts.muted) return;
    if (!audio) audio = new Audio(body.dataset.soundUrl);
    audio.currentTime = 0;
    alerts.played += 1;
    // A browser may refuse to play before the first user gesture; the other alerts still show.
    const started = audio.play();
    if (started && started.catch) started.catch(() => {});
  }

  function renderSound() {
    soundButton.textContent = alerts.muted ? "Sound off" : "Sound on";
    soundButton.setAttribute("aria-pressed", alerts.muted ? "true" : "false");
    soundButton.title = alerts.muted ? "Offers arrive silently: turn the sound on" : "Offers ring: mute them";
  }

  soundButton.addEventListener("click", () => {
    const wanted = !alerts.muted;
    window.desk.send("set_preferences", { sound_muted: wanted })
      .then((data) => { alerts.muted = data.sound_muted; renderSound(); })
      .catch((err) => window.desk.toast("The sound setting was not saved: " + err.message));
  });

  // --- notifications ---------------------------------------------------------------------------
  const canNotify = "Notification" in window;
  function renderNotify() {
    notifyButton.hidden = !canNotify || Notification.permission !== "default";
  }
  if (canNotify) {
    renderNotify();
    notifyButton.addEventListener("click", () => {
      // Asked only here, from the agent's click, never on load.
      Promise.resolve(Notification.requestPermission()).then(renderNotify, renderNotify);
    });
  }

  function notify(offer) {
    if (!canNotify || Notification.permission !== "granted" || !document.hidden) return;
    const note = new Notification("New offer: " + offer.customer_name, {
      body: (offer.channel_name || offer.channel_kind) + " · " + offer.queue_name +
        (offer.preview ? "\n" + offer.preview : ""),
      tag: "offer-" + offer.offer_id,
      requireInteraction: true,
    });
    alerts.notified += 1;
    note.onclick = () => { window.focus(); note.close(); };
  }

  // --- title and favicon -----------------------------------------------------------------------
  function drawIcon(count) {
    if (!favicon) return;
    if (!count) { favicon.href = baseIcon; return; }
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 64;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0, 64, 64);
      ctx.fillStyle = "#b42318";
      ctx.beginPath();
      ctx.arc(44, 20, 20, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 28px sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(count > 9 ? "9+" : String(count), 44, 21);
      favicon.href = canvas.toDataURL("image/png");
    };
    img.src = baseIcon;
  }

  function update(snapshot) {
    if (!snapshot) return;
    const offers = snapshot.offers.length;
    const unread = snapshot.conversations.filter((c) => c.unread > 0).length;
    const count = offers + unread;
    const parts = [];
    if (offers) parts.push(offers + (offers === 1 ? " offer" : " offers"));
    if (unread) parts.push(unread + " unread");
    document.title = (parts.length ? "(" + count + ") " + parts.join(", ") + " · " : "") + baseTitle;
    if (count !== alerts.count) drawIcon(count);
    alerts.count = count;
  }

  document.addEventListener("desk:changed", (event) => update(event.detail));
  document.addEventListener("desk:offer", (event) => { play(); notify(event.detail); });
  renderSound();
})();
