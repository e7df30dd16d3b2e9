// An open conversation's transcript follows new messages: the socket says one arrived, the page
// re-reads the message list.
(function () {
  "use strict";
  const list = document.getElementById("transcript");
  if (!list || !list.dataset.open) return;
  const id = Number(list.dataset.conversationId);
  let retry = 500;

  function reload() {
    fetch("/care/conversations/" + id + "/messages/", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { list.innerHTML = html; list.scrollTop = list.scrollHeight; })
      .catch(() => {});
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/care/");
    ws.onmessage = (e) => {
      const message = JSON.parse(e.data);
      if (message.type === "snapshot") {
        ws.send(JSON.stringify({ action: "watch", conversation_id: id }));
        reload();
      } else if (message.type === "event" && message.payload.conversation_id === id) {
        reload();
      }
    };
    ws.onclose = (event) => {
      if (event.code >= 4400) return;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
