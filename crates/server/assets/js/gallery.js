// Proofsheet web app: the gallery: selection, favourites, filters, more photos, the lightbox, Find me.
// Loaded by the markup it serves; uses window.Proofsheet (common.js).
(function () {
  "use strict";
  var P = window.Proofsheet, csrf = P.csrf, el = P.el, api = P.api;

  // ---- Gallery: selection, favourites, more photos, lightbox ----
  var grid = document.getElementById("gallery");
  if (grid) gallery(grid);

  function gallery(grid) {
    var album = grid.getAttribute("data-album");
    var price = parseInt(grid.getAttribute("data-price"), 10) || 0;
    var currency = grid.getAttribute("data-currency");
    var exponent = parseInt(grid.getAttribute("data-exponent"), 10) || 0;
    var client = grid.getAttribute("data-client") === "true";
    var key = "ps-selection:" + album;
    var chosen = new Set();
    try { JSON.parse(localStorage.getItem(key) || "[]").forEach(function (id) { chosen.add(id); }); } catch (e) { /* none */ }
    var status = document.getElementById("selection");
    var money;
    try { money = new Intl.NumberFormat(undefined, { style: "currency", currency: currency, minimumFractionDigits: exponent, maximumFractionDigits: exponent }); }
    catch (e) { money = { format: function (n) { return n.toFixed(exponent) + " " + currency; } }; }

    function save() { try { localStorage.setItem(key, JSON.stringify(Array.from(chosen))); } catch (e) { /* private mode */ } }
    function total() {
      status.textContent = chosen.size + " selected · " + money.format((chosen.size * price) / Math.pow(10, exponent));
    }
    function paint(li) {
      var on = chosen.has(li.getAttribute("data-photo"));
      li.classList.toggle("chosen", on);
      var b = li.querySelector("button.sel");
      if (b) b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    function toggle(id) {
      if (chosen.has(id)) chosen.delete(id); else chosen.add(id);
      save();
      var li = grid.querySelector('li[data-photo="' + id + '"]');
      if (li) paint(li);
      total();
    }

    grid.addEventListener("click", function (e) {
      var b = e.target.closest("button");
      if (!b) return;
      var li = b.closest("li");
      var id = li.getAttribute("data-photo");
      if (b.classList.contains("sel")) toggle(id);
      else if (b.classList.contains("fav")) favourite(b, id);
      else if (b.classList.contains("thumb")) openBox(li);
    });

    // A favourite is kept on the server; the tile's toggle and the
    // lightbox's show the same state.
    function favourite(b, id) {
      var on = b.getAttribute("aria-pressed") !== "true";
      b.disabled = true;
      api(on ? "PUT" : "DELETE", "/api/v1/photos/" + id + "/favourite").then(function (r) {
        if (!r.ok) return;
        var li = grid.querySelector('li[data-photo="' + id + '"]');
        var tileFav = li && li.querySelector("button.fav");
        [b, tileFav, current && current === li ? lbFav : null].forEach(function (x) {
          if (x) x.setAttribute("aria-pressed", on ? "true" : "false");
        });
      }).finally(function () { b.disabled = false; });
    }

    grid.querySelectorAll("li").forEach(paint);
    total();

    // The keyboard: one photo at a time takes Tab stops (its thumbnail,
    // Select, Favourite); the arrow keys move between photos (Up and Down
    // to the nearest photo of the row above or below), Home and End to
    // the first and the last. A roving tabindex: a long gallery is not
    // hundreds of Tab presses long.
    var active = null;
    function rove(li) { li.querySelectorAll("button").forEach(function (b) { b.tabIndex = -1; }); }
    function activate(li, kind) {
      if (active && active !== li) rove(active);
      active = li;
      li.querySelectorAll("button").forEach(function (b) { b.tabIndex = 0; });
      if (kind) (li.querySelector("button." + kind) || li.querySelector("button.thumb")).focus();
    }
    function firstShown() { return grid.querySelector("li[data-photo]:not([hidden])"); }
    grid.querySelectorAll("li[data-photo]").forEach(rove);
    if (firstShown()) activate(firstShown());
    grid.addEventListener("focusin", function (e) {
      var li = e.target.closest("li[data-photo]");
      if (li && li !== active) activate(li);
    });
    function verticalNeighbour(list, li, down) {
      var r = li.getBoundingClientRect(), x = r.left + r.width / 2, best = null, bestRow = null, bestDx = Infinity;
      list.forEach(function (n) {
        var q = n.getBoundingClientRect();
        var row = q.top;
        if (down ? row <= r.top + 1 : row >= r.top - 1) return;
        if (bestRow !== null && (down ? row > bestRow + 1 : row < bestRow - 1)) return;
        if (bestRow === null || Math.abs(row - bestRow) > 1) { bestRow = row; bestDx = Infinity; }
        var dx = Math.abs(q.left + q.width / 2 - x);
        if (dx < bestDx) { bestDx = dx; best = n; }
      });
      return best;
    }
    grid.addEventListener("keydown", function (e) {
      var li = e.target.closest("li[data-photo]");
      if (!li || ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].indexOf(e.key) < 0) return;
      var list = items(), i = list.indexOf(li), to = null;
      if (e.key === "ArrowRight") to = list[i + 1];
      else if (e.key === "ArrowLeft") to = list[i - 1];
      else if (e.key === "Home") to = list[0];
      else if (e.key === "End") to = list[list.length - 1];
      else to = verticalNeighbour(list, li, e.key === "ArrowDown");
      if (!to) return;
      e.preventDefault();
      var kind = e.target.classList.contains("sel") ? "sel" : e.target.classList.contains("fav") ? "fav" : "thumb";
      activate(to, kind);
      if (list.indexOf(to) >= list.length - 3) loadMore();
    });

    // All / Favourites / Selected: narrow the rows to one kind.
    var filters = document.getElementById("filters");
    var shown = "all";
    function matches(li) {
      if (shown === "selected") return chosen.has(li.getAttribute("data-photo"));
      if (shown === "favourites") {
        var f = li.querySelector("button.fav");
        return !!f && f.getAttribute("aria-pressed") === "true";
      }
      return true;
    }
    function narrow() {
      grid.querySelectorAll("li[data-photo]").forEach(function (li) { li.hidden = !matches(li); });
      if ((!active || active.hidden) && firstShown()) activate(firstShown());
    }
    if (filters) {
      filters.hidden = false;
      filters.addEventListener("click", function (e) {
        var b = e.target.closest("button.filter");
        if (!b) return;
        shown = b.getAttribute("data-filter");
        filters.querySelectorAll("button.filter").forEach(function (x) { x.setAttribute("aria-pressed", x === b ? "true" : "false"); });
        narrow();
      });
    }

    var form = document.getElementById("checkout");
    form.addEventListener("submit", function (e) {
      if (!chosen.size) { e.preventDefault(); status.textContent = "Select at least one photo first."; return; }
      var box = document.getElementById("chosen");
      box.textContent = "";
      chosen.forEach(function (id) { box.appendChild(el("input", { type: "hidden", name: "photo", value: id })); });
    });

    // More photos as the grid's end comes near.
    var more = document.getElementById("more");
    var next = grid.getAttribute("data-next");
    var loading = false;
    // Tiles for photos shown later come from the server as HTML
    // (/albums/{id}/tiles): the markup, the aspect-ratio class and the
    // image sizes are the server's alone. This only wires them up.
    function tiles(query) {
      return fetch("/albums/" + album + "/tiles?" + query, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("status " + r.status);
        return r.text();
      }).then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html;
        var ul = t.content.firstElementChild;
        var lis = Array.prototype.slice.call(ul.children);
        lis.forEach(function (li) {
          paint(li);
          li.hidden = !matches(li);
          rove(li);
          grid.appendChild(li);
          if (!active && !li.hidden) activate(li);
        });
        return { items: lis, next: ul.getAttribute("data-next") };
      });
    }
    function loadMore() {
      if (loading || !next) return;
      loading = true;
      tiles("cursor=" + encodeURIComponent(next)).then(function (page) {
        next = page.next;
        if (!next && more) more.remove();
      }).catch(function () {}).finally(function () { loading = false; });
    }
    if (more && "IntersectionObserver" in window) {
      more.querySelector("a").addEventListener("click", function (e) { e.preventDefault(); loadMore(); });
      new IntersectionObserver(function (entries) {
        if (entries.some(function (en) { return en.isIntersecting; })) loadMore();
      }, { rootMargin: "3000px 0px" }).observe(more);
    }

    // The lightbox.
    var box = document.getElementById("lightbox");
    var img = document.getElementById("lb-img");
    var caption = document.getElementById("lb-caption");
    var sel = document.getElementById("lb-select");
    var lbFav = document.getElementById("lb-fav");
    var current = null, opener = null;
    function items() { return Array.prototype.slice.call(grid.querySelectorAll("li[data-photo]:not([hidden])")); }
    function show(li) {
      current = li;
      var id = li.getAttribute("data-photo");
      var name = li.querySelector("img").getAttribute("alt");
      img.src = "/api/v1/photos/" + id + "/preview";
      img.alt = "Preview of " + name;
      var list = items();
      caption.textContent = name + " (" + (list.indexOf(li) + 1) + " of " + list.length + ")";
      sel.setAttribute("aria-pressed", chosen.has(id) ? "true" : "false");
      if (lbFav) {
        var f = li.querySelector("button.fav");
        lbFav.setAttribute("aria-pressed", f && f.getAttribute("aria-pressed") === "true" ? "true" : "false");
      }
      // The neighbours' previews load now, so the next step is instant.
      var at = list.indexOf(li);
      [list[at - 1], list[at + 1]].forEach(function (n) {
        if (n) (new Image()).src = "/api/v1/photos/" + n.getAttribute("data-photo") + "/preview";
      });
    }
    function step(d) {
      var list = items();
      var i = list.indexOf(current) + d;
      if (i >= 0 && i < list.length) show(list[i]);
      if (d > 0 && i >= list.length - 3) loadMore();
    }
    function openBox(li) {
      opener = li.querySelector("button.thumb");
      show(li);
      if (box.showModal) box.showModal(); else box.setAttribute("open", "");
      document.getElementById("lb-next").focus();
    }
    box.addEventListener("keydown", function (e) {
      if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    });
    box.addEventListener("close", function () {
      if (current) opener = current.querySelector("button.thumb");
      if (opener) opener.focus();
    });
    document.getElementById("lb-next").addEventListener("click", function () { step(1); });
    document.getElementById("lb-prev").addEventListener("click", function () { step(-1); });
    document.getElementById("lb-close").addEventListener("click", function () { box.close(); });
    if (lbFav) lbFav.addEventListener("click", function () { favourite(lbFav, current.getAttribute("data-photo")); });
    sel.addEventListener("click", function () {
      toggle(current.getAttribute("data-photo"));
      sel.setAttribute("aria-pressed", chosen.has(current.getAttribute("data-photo")) ? "true" : "false");
    });
    // "Find me": a selfie against the album's faces; the matches replace
    // the grid, and may all be selected at once.
    var findme = document.getElementById("findme");
    if (findme) {
      var selfie = document.getElementById("selfie");
      var said = document.getElementById("findme-status");
      var all = document.getElementById("findme-all");
      var reset = document.getElementById("findme-reset");
      var go = document.getElementById("findme-go");
      var found = [];
      go.addEventListener("click", function () { selfie.click(); });
      selfie.addEventListener("change", function () {
        var f = selfie.files[0];
        if (!f) return;
        var data = new FormData();
        data.append("selfie", f);
        selfie.value = "";
        go.disabled = true;
        said.textContent = "Looking for you in this album\u2026";
        fetch("/api/v1/albums/" + album + "/find-me", { method: "POST", credentials: "same-origin", body: data,
          headers: { "x-csrf-token": csrf, accept: "application/json" } })
          .then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.message || "the search failed"); return b; }); })
          .then(function (b) {
            found = b.items.map(function (m) { return m.photo; });
            grid.textContent = "";
            active = null;
            next = null;
            if (found.length) tiles(found.map(function (p) { return "photo=" + encodeURIComponent(p.id); }).join("&"));
            if (more) more.hidden = true;
            said.textContent = found.length
              ? "Found you in " + found.length + (found.length === 1 ? " photo." : " photos.")
              : "No photos of you were found in this album. A clearer selfie, facing the camera, may help.";
            all.hidden = !found.length;
            reset.hidden = false;
          })
          .catch(function (e) { said.textContent = "No search: " + e.message; })
          .finally(function () { go.disabled = false; });
      });
      all.addEventListener("click", function () {
        found.forEach(function (p) { chosen.add(p.id); });
        save();
        grid.querySelectorAll("li").forEach(paint);
        total();
        said.textContent = found.length + " matching photos selected.";
      });
      reset.addEventListener("click", function () { window.location.reload(); });
    }

    var x0 = null;
    box.addEventListener("pointerdown", function (e) { x0 = e.clientX; });
    box.addEventListener("pointerup", function (e) {
      if (x0 !== null && Math.abs(e.clientX - x0) > 50) step(e.clientX < x0 ? 1 : -1);
      x0 = null;
    });
  }
})();
