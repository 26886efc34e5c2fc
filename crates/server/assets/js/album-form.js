// Proofsheet web app: the album form: the watermark's fields and their live preview.
// Loaded by the markup it serves; uses window.Proofsheet (common.js).
(function () {
  "use strict";
  var P = window.Proofsheet, api = P.api;

  // ---- Album form: the watermark's fields, and its live preview ----
  var mark = document.getElementById("mark");
  if (mark) {
    var kindSel = document.getElementById("wm_kind");
    var shown = function () {
      var k = kindSel.value.indexOf("plugin:") === 0 ? "plugin" : kindSel.value;
      mark.querySelectorAll("[data-wm-for]").forEach(function (d) { d.hidden = d.getAttribute("data-wm-for") !== k; });
    };
    var field = function (id) { var e = document.getElementById(id); return e ? e.value : ""; };
    var choice = function () {
      var k = kindSel.value;
      if (k === "") return null;
      if (k === "text") return field("watermark").trim() ? { kind: "text", text: field("watermark") } : null;
      if (k === "logo") {
        return { kind: "logo", position: field("wm_position"),
          scale: Number(field("wm_scale")) / 100, opacity: Number(field("wm_opacity")) / 100 };
      }
      return { kind: "plugin", plugin: k.slice(7), params: field("wm_params") };
    };
    var previewAlbum = mark.getAttribute("data-album");
    var img = document.getElementById("wm-preview");
    var said = document.getElementById("wm-preview-status");
    var timer = null, asked = 0, url = null;
    var refresh = function () {
      if (!previewAlbum || !img) return;
      var mine = ++asked;
      var c = choice();
      said.textContent = "Drawing the preview\u2026";
      api("POST", "/api/v1/albums/" + previewAlbum + "/watermark-preview", { watermark: c }).then(function (r) {
        if (mine !== asked) return null;
        if (r.ok) return r.blob();
        return r.json().then(function (e) { throw new Error(e.message || "the preview failed"); });
      }).then(function (blob) {
        if (!blob || mine !== asked) return;
        if (url) URL.revokeObjectURL(url);
        url = URL.createObjectURL(blob);
        img.src = url;
        img.hidden = false;
        img.setAttribute("data-choice", JSON.stringify(c));
        said.textContent = "Preview of the chosen watermark (not saved yet).";
      }).catch(function (e) { if (mine === asked) said.textContent = "No preview: " + e.message; });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 400); };
    mark.addEventListener("input", later);
    mark.addEventListener("change", function () { shown(); later(); });
    shown();
    refresh();
  }
})();
