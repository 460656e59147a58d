/* Nghe Dân desk: small progressive enhancement, no framework. The pages work without it.
   - the queue polls /desk/queue.json every 20 s and swaps in new rows (no reload);
   - the unread badge follows the server;
   - forms with data-confirm ask before they are sent. */
(function () {
  "use strict";
  var POLL_MS = 20000;

  function setText(el, text) { if (el) { el.textContent = String(text); } }

  function updateCounts(counts) {
    if (!counts) { return; }
    document.querySelectorAll(".tabs a[data-tab]").forEach(function (a) {
      var key = a.getAttribute("data-tab");
      if (Object.prototype.hasOwnProperty.call(counts, key)) {
        setText(a.querySelector(".count"), counts[key]);
      }
    });
  }

  function updateUnread(n) {
    if (typeof n !== "number") { return; }
    var badge = document.getElementById("unread-count");
    setText(badge, n);
    if (badge && badge.parentElement) {
      badge.parentElement.classList.toggle("has-unread", n > 0);
    }
  }

  function startPolling(box) {
    var busy = false;
    function poll() {
      if (busy || document.hidden) { return; }
      busy = true;
      var url = box.getAttribute("data-poll");
      url += (url.indexOf("?") < 0 ? "?" : "&") + "since=" +
        encodeURIComponent(box.getAttribute("data-token") || "");
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (r.status === 401) { window.location.assign("/desk/login"); return null; }
          return r.ok ? r.json() : null;
        })
        .then(function (data) {
          if (!data) { return; }
          updateCounts(data.counts);
          updateUnread(data.unread);
          if (data.html && data.token !== box.getAttribute("data-token")) {
            box.innerHTML = data.html;  /* rendered and escaped by the server */
            box.setAttribute("data-token", data.token);
            var note = document.getElementById("new-tickets");
            if (note) { note.hidden = false; }
          }
        })
        .catch(function () { /* offline for a moment: try again next time */ })
        .then(function () { busy = false; });
    }
    window.setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { poll(); }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("queue");
    if (box && box.getAttribute("data-poll") && window.fetch) { startPolling(box); }
  });
})();
