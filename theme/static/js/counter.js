/* Visitor counter: record this visit, fill "Số lượt truy cập" and "Lượt xem".
   Any failure (service down, slow, blocked) leaves the "—" already in the page. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch || !window.JSON) return;
  var base = me.getAttribute("data-counter-url");
  var page = me.getAttribute("data-page");
  var wait = +me.getAttribute("data-timeout") || 2000;
  var number = window.Intl ? new Intl.NumberFormat("vi-VN") : null;

  function fill(kind, value) {
    var nodes = document.querySelectorAll('[data-counter="' + kind + '"]');
    var text = typeof value === "number" ? (number ? number.format(value) : String(value)) : "—";
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = text;
  }

  function done(data) {
    fill("site", data && data.site);
    fill("page", data && data.page);
  }

  function go() {
    var control = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () {
      if (control) control.abort();
      done(null);
    }, wait);
    fetch(base + "/api/hit", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ page: page }),
      credentials: "omit",
      keepalive: true,
      signal: control ? control.signal : undefined
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        clearTimeout(timer);
        done(data);
      })
      .catch(function () {
        clearTimeout(timer);
        done(null);
      });
  }

  if (document.prerendering) {
    document.addEventListener("prerenderingchange", go, { once: true });
  } else {
    go();
  }
})();
