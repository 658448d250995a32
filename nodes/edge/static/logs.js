// The admin's live tail: a socket to /ws/logs with the form's filters, new
// records added on top of the table, pause and resume. Without JavaScript
// the page is the newest page and its links.
(function () {
  "use strict";
  var button = document.getElementById("log-tail");
  var status = document.getElementById("log-tail-status");
  var rows = document.getElementById("log-rows");
  var form = document.getElementById("log-filters");
  if (!button || !rows || !form || !window.WebSocket) return;
  button.hidden = false;
  var socket = null;
  var paused = false;
  var after = button.getAttribute("data-after") || "0";

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function addRecord(r) {
    var tr = document.createElement("tr");
    tr.className = "level-" + r.level + " tailed";
    tr.setAttribute("data-seq", String(r.seq));
    tr.appendChild(cell(r.time));
    tr.appendChild(cell(r.level));
    tr.appendChild(cell(r.node));
    var message = cell(r.message);
    message.title = r.target;
    tr.appendChild(message);
    var fields = [];
    Object.keys(r.fields || {}).forEach(function (k) {
      var v = r.fields[k];
      fields.push(k + "=" + (typeof v === "string" ? v : JSON.stringify(v)));
    });
    var code = document.createElement("code");
    code.textContent = fields.join(" ");
    var td = document.createElement("td");
    td.appendChild(code);
    tr.appendChild(td);
    var req = document.createElement("td");
    if (r.request_id) {
      var a = document.createElement("a");
      a.href = "/admin/logs/requests/" + encodeURIComponent(r.request_id);
      a.textContent = r.request_id;
      req.appendChild(a);
    }
    tr.appendChild(req);
    rows.insertBefore(tr, rows.firstChild);
  }

  function open() {
    var params = new URLSearchParams(new FormData(form));
    params.set("after", after);
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/logs?" + params.toString());
    status.textContent = "Connecting…";
    socket.onopen = function () {
      status.textContent = "Live";
      button.textContent = "Pause";
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "records") {
        frame.records.forEach(addRecord);
        after = String(frame.last_seq);
      } else if (frame.type === "paused") {
        status.textContent = "Paused";
      } else if (frame.type === "resumed") {
        status.textContent = "Live";
      } else if (frame.type === "refused") {
        status.textContent = frame.message;
      }
    };
    socket.onclose = function () {
      socket = null;
      paused = false;
      button.textContent = "Live tail";
      if (status.textContent === "Live" || status.textContent === "Paused") {
        status.textContent = "Stopped";
      }
    };
  }

  button.addEventListener("click", function () {
    if (!socket) {
      open();
    } else if (socket.readyState === WebSocket.OPEN) {
      paused = !paused;
      socket.send(JSON.stringify({ type: paused ? "pause" : "resume" }));
      button.textContent = paused ? "Resume" : "Pause";
    }
  });
})();
