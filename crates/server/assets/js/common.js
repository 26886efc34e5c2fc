// Proofsheet web app: what every page shares. Ours, written by hand, no
// build step. Every page works and reads without script; each part of a
// page that does more (the gallery, the studio, the cart, ...) carries its
// own script beside it (assets/js/<part>.js), which uses what this one
// leaves in window.Proofsheet.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var signedIn = !!document.querySelector("form.signout");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }

  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "x-csrf-token": csrf, accept: "application/json" } };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["content-type"] = "application/json"; }
    return fetch(url, opts);
  }

  // Times in the viewer's own words.
  function localTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d)) return;
      var opts = t.hasAttribute("data-date") ? { dateStyle: "long" } : { dateStyle: "long", timeStyle: "short" };
      try { t.textContent = new Intl.DateTimeFormat(undefined, opts).format(d); } catch (e) { /* keep UTC */ }
    });
  }

  // Forms that ask first.
  document.addEventListener("submit", function (ev) {
    var f = ev.submitter && ev.submitter.hasAttribute("data-confirm") ? ev.submitter : ev.target;
    if (f.hasAttribute && f.hasAttribute("data-confirm") && !window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
  });

  // Copy buttons.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var input = document.getElementById(b.getAttribute("data-copy"));
      var label = b.textContent;
      var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = label; }, 2000); };
      if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      else { input.select(); document.execCommand("copy"); done(); }
    });
  });

  localTimes();
  window.Proofsheet = { csrf: csrf, signedIn: signedIn, el: el, api: api };
})();
