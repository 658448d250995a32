// Progressive enhancement for the server-rendered pages. Every page works
// without this file; with it, countdowns tick, the search box suggests
// titles, product thumbnails swap the main image in place and chosen
// product photos are previewed before upload.
(function () {
  "use strict";

  // Flash-sale countdowns: <time data-countdown datetime="RFC 3339">ends at …</time>.
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("datetime"));
      if (isNaN(end)) { return; }
      var left = Math.floor((end - now) / 1000);
      if (left <= 0) { el.textContent = "Ended"; el.removeAttribute("data-countdown"); return; }
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      var m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = "Ends in " + (d > 0 ? d + "d " : "") + two(h) + ":" + two(m) + ":" + two(s);
    });
  }
  if (document.querySelector("time[data-countdown]")) { tick(); setInterval(tick, 1000); }

  // Search suggestions in a <datalist>, from /api/search/suggest.
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list || !window.fetch) { return; }
    var timer = null, last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2 || q === last) { return; }
        last = q;
        fetch("/api/search/suggest?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (body) {
            list.textContent = "";
            (body.suggestions || []).forEach(function (s) {
              var opt = document.createElement("option");
              opt.value = s.title;
              list.appendChild(opt);
            });
          })
          .catch(function () {});
      }, 150);
    });
  });

  // Product gallery: thumbnails are links to ?image=N; swap in place instead.
  document.querySelectorAll("[data-gallery]").forEach(function (gallery) {
    var main = gallery.querySelector("img[data-gallery-main]");
    if (!main) { return; }
    gallery.querySelectorAll("a[data-full]").forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        main.src = a.getAttribute("data-full");
        gallery.querySelectorAll("a[data-full]").forEach(function (o) { o.removeAttribute("aria-current"); });
        a.setAttribute("aria-current", "true");
      });
    });
  });

  // On narrow screens the listing's filters start folded under their summary.
  if (window.matchMedia && window.matchMedia("(max-width: 760px)").matches) {
    document.querySelectorAll("details[data-collapse-narrow]").forEach(function (d) { d.open = false; });
  }

  // Previews of the photos chosen for upload.
  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("data-preview"));
    if (!out || !window.URL) { return; }
    input.addEventListener("change", function () {
      out.textContent = "";
      Array.prototype.forEach.call(input.files || [], function (file) {
        if (!/^image\//.test(file.type)) { return; }
        var li = document.createElement("li");
        var img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = "";
        img.onload = function () { URL.revokeObjectURL(img.src); };
        var name = document.createElement("span");
        name.textContent = file.name;
        li.appendChild(img);
        li.appendChild(name);
        out.appendChild(li);
      });
    });
  });
})();
