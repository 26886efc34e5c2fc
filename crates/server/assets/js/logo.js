// Proofsheet web app: the studio settings' logo: upload and remove.
// Loaded by the markup it serves; uses window.Proofsheet (common.js).
(function () {
  "use strict";
  var P = window.Proofsheet, csrf = P.csrf, api = P.api;

  // ---- Studio: the photographer's logo ----
  var logoFile = document.getElementById("logo-file");
  if (logoFile) {
    var logoSaid = document.getElementById("logo-status");
    var after = function (r, done) {
      if (r.ok) { logoSaid.textContent = done; setTimeout(function () { window.location.reload(); }, 600); return; }
      return r.json().then(function (e) { logoSaid.textContent = "Not saved: " + (e.message || r.status); });
    };
    logoFile.addEventListener("change", function () {
      var f = logoFile.files[0];
      if (!f) return;
      logoSaid.textContent = "Uploading " + f.name + "\u2026";
      fetch("/api/v1/users/me/logo", { method: "PUT", credentials: "same-origin", body: f,
        headers: { "x-csrf-token": csrf, "content-type": "image/png", accept: "application/json" } })
        .then(function (r) { return after(r, "Logo saved. Albums that use it are being marked again."); },
          function () { logoSaid.textContent = "Not saved: the connection failed."; });
    });
    var remove = document.getElementById("logo-remove");
    if (remove) remove.addEventListener("click", function () {
      if (!window.confirm("Remove your logo? Albums that use it go back to the studio default.")) return;
      api("DELETE", "/api/v1/users/me/logo").then(function (r) { return after(r, "Logo removed."); });
    });
  }
})();
