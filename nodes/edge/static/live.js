// Live updates for signed-in pages over one websocket (GET /ws): the
// notifications badge counts up as notifications arrive, and a conversation
// page shows new messages, typing and "seen" without a reload. Without this
// script every page still works: forms post and pages reload.
(function () {
  "use strict";
  if (!("WebSocket" in window)) return;
  var convo = document.getElementById("conversation");
  var id = convo ? convo.dataset.id : null;
  var lastSeq = convo ? parseInt(convo.dataset.lastSeq, 10) || 0 : 0;
  var list = convo ? convo.querySelector("[data-messages]") : null;
  var form = convo ? convo.querySelector("form[data-send]") : null;
  var socket = null;
  var open = false;
  var delay = 1000;
  var typingTimer = null;
  var lastTyping = 0;

  function newId() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function bumpBadge() {
    var link = document.querySelector(".notifications-link");
    if (!link) return;
    var badge = link.querySelector(".badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge unread";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(badge);
      badge.textContent = "0";
    }
    var n = (parseInt(badge.textContent, 10) || 0) + 1;
    badge.textContent = String(n);
    badge.setAttribute("aria-label", n + " unread");
  }

  // Renders one message with textContent only: nothing a person typed is
  // ever parsed as HTML.
  function render(m) {
    var li = document.getElementById("m" + m.seq) || document.createElement("li");
    li.id = "m" + m.seq;
    li.className = "message" + (m.deleted ? " deleted" : "");
    li.dataset.seq = String(m.seq);
    li.textContent = "";
    var author = document.createElement("span");
    author.className = "author";
    author.textContent = m.author_name;
    li.appendChild(author);
    li.appendChild(document.createTextNode(" "));
    var body = document.createElement(m.deleted ? "em" : "span");
    if (m.deleted || !m.body) {
      body.textContent = "Message deleted";
    } else if (m.body.kind === "text") {
      body.className = "text";
      body.textContent = m.body.text;
    } else if (m.body.kind === "image") {
      var img = document.createElement("img");
      img.src = "/images/" + encodeURIComponent(m.body.image) + "?size=thumb";
      img.alt = "A picture from " + m.author_name;
      img.width = 160;
      body.appendChild(img);
    } else if (m.body.kind === "product") {
      var a = document.createElement("a");
      a.href = "/products/" + encodeURIComponent(m.body.product.slug);
      a.textContent = m.body.product.title;
      body.appendChild(a);
    }
    li.appendChild(body);
    if (!li.parentNode) {
      var empty = list.querySelector("[data-empty]");
      if (empty) empty.remove();
      list.appendChild(li);
    }
    if (m.seq > lastSeq) lastSeq = m.seq;
  }

  function send(frame) {
    if (socket && open) socket.send(JSON.stringify(frame));
  }

  function onFrame(f) {
    if (f.type === "notification") {
      // A message in the conversation on screen needs no badge.
      if (!(id && f.link && f.link.indexOf(id) !== -1)) bumpBadge();
    } else if (id && (f.type === "message" || f.type === "sent") && f.message.conversation === id) {
      render(f.message);
      if (f.type === "message") send({ type: "read", conversation: id, seq: f.message.seq });
      var seen = convo.querySelector("[data-seen]");
      if (seen && f.type === "sent") seen.textContent = "";
    } else if (id && f.type === "missed") {
      f.messages.forEach(function (m) { if (m.conversation === id) render(m); });
    } else if (id && f.type === "typing" && f.conversation === id) {
      var t = convo.querySelector("[data-typing]");
      t.textContent = f.name + " is typing…";
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { t.textContent = ""; }, 4000);
    } else if (id && f.type === "read" && f.conversation === id) {
      var s = convo.querySelector("[data-seen]");
      if (s && f.seq >= lastSeq) s.textContent = "Seen";
    } else if (id && f.type === "presence") {
      var p = convo.querySelector("[data-presence]");
      if (p) p.textContent = f.online ? "online" : "offline";
    } else if (f.type === "error" && f.status === 401) {
      // The 15-minute access token ran out: rotate the session, reconnect.
      fetch("/api/refresh-token", { method: "POST", credentials: "same-origin" })
        .then(function () { if (socket) socket.close(); });
    } else if (f.type === "error" && f.client_id && form) {
      var err = document.createElement("p");
      err.className = "error-banner";
      err.setAttribute("role", "alert");
      err.textContent = f.message;
      form.parentNode.insertBefore(err, form);
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws");
    socket.onopen = function () {
      open = true;
      delay = 1000;
      if (id) send({ type: "resume", cursors: [{ conversation: id, seq: lastSeq }] });
      document.documentElement.dataset.live = "on";
    };
    socket.onmessage = function (e) {
      try { onFrame(JSON.parse(e.data)); } catch (err) { /* not ours */ }
    };
    socket.onclose = function () {
      open = false;
      document.documentElement.dataset.live = "off";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  if (form) {
    var text = form.querySelector("textarea");
    form.addEventListener("submit", function (e) {
      if (!open) return; // The form posts; the page reloads.
      e.preventDefault();
      var value = text.value.trim();
      if (!value) return;
      var clientId = form.querySelector("[name=client_id]");
      send({ type: "send", conversation: id, client_id: clientId.value,
             body: { kind: "text", text: value } });
      clientId.value = newId();
      text.value = "";
    });
    text.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTyping > 3000) {
        lastTyping = now;
        send({ type: "typing", conversation: id });
      }
    });
  }
  connect();
})();
