// Proofsheet web app: the little script the pages need. Ours, written by
// hand, no build step. Every page works and reads without it; this adds
// upload progress, live status, the lightbox, the selection and favourites.
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

  // ---- Studio: uploads and live status ----
  var photos = document.getElementById("photos");
  var files = document.getElementById("files");
  if (photos && files) studio(photos.getAttribute("data-album"));

  function studio(album) {
    var queue = [], running = 0, PARALLEL = 3;
    var live = document.getElementById("upload-live");
    var words = { processing: "Processing", ready: "Ready", failed: "Failed" };

    function setStatus(li, status, reason) {
      li.setAttribute("data-status", status);
      var s = li.querySelector(".status");
      s.textContent = (words[status] || status) + (reason ? ": " + reason : "");
    }

    // A new photo's tile is the server's own, cloned from the page's
    // template; its id is filled in once the upload makes the photo.
    var template = document.getElementById("studio-tile");
    function named(li, id) {
      li.setAttribute("data-photo", id);
      li.id = "p-" + id;
      li.querySelectorAll("[value]").forEach(function (v) {
        v.value = v.value.replace(/^(\w+:)?$/, function (m, verb) { return (verb || "") + id; });
      });
    }
    function item(file) {
      var li = template.content.firstElementChild.cloneNode(true);
      li.querySelector(".name").textContent = file.name;
      var del = li.querySelector('button[value^="delete:"]');
      del.setAttribute("aria-label", "Delete " + file.name);
      del.setAttribute("data-confirm", "Delete " + file.name + "?");
      li.querySelectorAll(".acts button, input").forEach(function (b) { b.disabled = true; });
      var bar = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
      li.appendChild(bar);
      var cancel = el("button", { type: "button", "class": "link" }, "Cancel");
      li.appendChild(cancel);
      photos.appendChild(li);
      var job = { file: file, li: li, bar: bar, cancel: cancel, xhr: null, cancelled: false, url: null, offset: 0 };
      cancel.addEventListener("click", function () {
        job.cancelled = true;
        if (job.xhr) job.xhr.abort();
        if (job.url) {
          var drop = new XMLHttpRequest();
          drop.open("DELETE", job.url);
          drop.setRequestHeader("tus-resumable", "1.0.0");
          drop.setRequestHeader("x-csrf-token", csrf);
          drop.send();
        }
        li.remove();
        added.files--; added.bytes -= file.size;
        var i = queue.indexOf(job);
        if (i >= 0) queue.splice(i, 1);
        announce();
      });
      return job;
    }

    function pump() {
      while (running < PARALLEL && queue.length) {
        var job = queue.shift();
        if (!job.cancelled) { running++; send(job); }
      }
    }

    // Uploads go over tus 1.0 (resumable): 5 MiB chunks; a dropped
    // connection or a server hiccup asks the server how far it got and
    // goes on from there (5 tries, waiting longer each time); "Retry"
    // after a failure resumes too.
    var CHUNK = 5 * 1024 * 1024, TRIES = 5;

    function tus(method, url, job) {
      var xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("tus-resumable", "1.0.0");
      xhr.setRequestHeader("x-csrf-token", csrf);
      return xhr;
    }

    function send(job) {
      var li = job.li, file = job.file, tries = 0;
      li.querySelector(".status").textContent = "Uploading 0%";

      function progress(sent) {
        var pct = file.size ? Math.floor((sent / file.size) * 100) : 100;
        job.bar.value = pct;
        li.querySelector(".status").textContent = "Uploading " + pct + "%";
      }

      function finish(photo, xhr) {
        running--;
        if (job.cancelled) { pump(); return; }
        job.bar.remove();
        job.cancel.remove();
        if (photo) {
          job.url = null;
          named(li, photo);
          li.querySelectorAll(".acts button, input").forEach(function (b) { b.disabled = false; });
          done.files++; done.bytes += file.size;
          setStatus(li, "processing");
          watch();
        } else {
          var body = {};
          try { body = JSON.parse(xhr.responseText || "{}"); } catch (e) { /* not JSON */ }
          var reason = body.message || (xhr.status ? "the server answered " + xhr.status : "the connection broke");
          // A refused file is gone on the server: "Retry" starts it again.
          if (xhr.status && xhr.status < 500 && xhr.status !== 409) job.url = null;
          li.setAttribute("data-status", "failed");
          li.querySelector(".status").textContent = "Failed: " + reason;
          var retry = el("button", { type: "button", "class": "link" }, "Retry");
          retry.addEventListener("click", function () {
            retry.remove();
            li.appendChild(job.bar);
            li.appendChild(job.cancel);
            queue.push(job); pump();
          });
          li.appendChild(retry);
        }
        announce();
        pump();
      }

      // Network errors, 5xx and a lost offset are worth another go.
      function again(xhr) {
        if (job.cancelled) { finish(null, xhr); return; }
        if ((xhr.status === 0 || xhr.status >= 500 || xhr.status === 409) && tries < TRIES) {
          tries++;
          setTimeout(resume, 500 * Math.pow(2, tries));
        } else {
          finish(null, xhr);
        }
      }

      function create() {
        var xhr = tus("POST", "/api/v1/albums/" + album + "/uploads", job);
        xhr.setRequestHeader("upload-length", String(file.size));
        xhr.setRequestHeader("upload-metadata", "filename " + btoa(unescape(encodeURIComponent(file.name))));
        xhr.onloadend = function () {
          if (xhr.status === 201 && xhr.getResponseHeader("location")) {
            job.url = xhr.getResponseHeader("location");
            job.offset = 0;
            patch();
          } else {
            again(xhr);
          }
        };
        xhr.send();
      }

      function resume() {
        if (!job.url) { create(); return; }
        var xhr = tus("HEAD", job.url, job);
        xhr.onloadend = function () {
          if (xhr.status !== 200) {
            if (xhr.status === 404 || xhr.status === 410) { job.url = null; create(); } else again(xhr);
            return;
          }
          var photo = xhr.getResponseHeader("proofsheet-photo-id");
          if (photo) { finish(photo, xhr); return; }
          job.offset = parseInt(xhr.getResponseHeader("upload-offset"), 10) || 0;
          patch();
        };
        xhr.send();
      }

      function patch() {
        var xhr = tus("PATCH", job.url, job);
        xhr.setRequestHeader("content-type", "application/offset+octet-stream");
        xhr.setRequestHeader("upload-offset", String(job.offset));
        xhr.upload.onprogress = function (e) { progress(job.offset + e.loaded); };
        xhr.onloadend = function () {
          if (job.cancelled) { finish(null, xhr); return; }
          if (xhr.status !== 204) { again(xhr); return; }
          tries = 0;
          var photo = xhr.getResponseHeader("proofsheet-photo-id");
          if (photo) { progress(file.size); finish(photo, xhr); return; }
          job.offset = parseInt(xhr.getResponseHeader("upload-offset"), 10) || 0;
          progress(job.offset);
          patch();
        };
        xhr.send(file.slice(job.offset, Math.min(job.offset + CHUNK, file.size)));
      }

      resume();
    }

    // One line for the whole batch: "7 of 24 uploaded · 45 MB left".
    var done = { files: 0, bytes: 0 }, added = { files: 0, bytes: 0 };
    function mb(n) { return n >= 1048576 ? Math.round(n / 1048576) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB"; }
    function announce() {
      var left = queue.length + running;
      if (!live) return;
      live.textContent = done.files + " of " + added.files + " uploaded" +
        (left ? " · " + mb(Math.max(0, added.bytes - done.bytes)) + " left" : "");
    }

    function add(list) {
      Array.prototype.forEach.call(list, function (f) { added.files++; added.bytes += f.size; queue.push(item(f)); });
      announce();
      pump();
    }

    files.addEventListener("change", function () { add(files.files); files.value = ""; });
    document.addEventListener("dragover", function (e) { e.preventDefault(); document.body.classList.add("dragging"); });
    document.addEventListener("dragleave", function (e) { if (!e.relatedTarget) document.body.classList.remove("dragging"); });
    document.addEventListener("drop", function (e) {
      e.preventDefault();
      document.body.classList.remove("dragging");
      if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
    });

    // Poll the album's photos while any is processing.
    var timer = null;
    function watch() { if (!timer) timer = setTimeout(poll, 1200); }
    function poll() {
      timer = null;
      fetchAll("/api/v1/albums/" + album + "/photos?limit=200", null, []).then(function (all) {
        all.forEach(function (p) {
          var li = photos.querySelector('li[data-photo="' + p.id + '"]');
          if (!li || li.getAttribute("data-status") === p.status) return;
          setStatus(li, p.status, p.failure_reason);
          if (p.status === "ready") {
            var ph = li.querySelector(".ph");
            if (ph) ph.replaceWith(el("img", { src: "/api/v1/photos/" + p.id + "/thumbnail", alt: "", width: String(p.width), height: String(p.height) }));
          }
        });
        if (photos.querySelector('li[data-status="processing"]')) watch();
      }, function () { watch(); });
    }
    if (photos.querySelector('li[data-status="processing"]')) watch();
  }

  function fetchAll(url, cursor, acc) {
    return api("GET", url + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    }).then(function (page) {
      acc = acc.concat(page.items);
      return page.next_cursor ? fetchAll(url, page.next_cursor, acc) : acc;
    });
  }

  // ---- The cart: what it shows is the selection; paying empties it ----
  var cartState = document.getElementById("cart-state");
  if (cartState) {
    var cartKey = "ps-selection:" + cartState.getAttribute("data-album");
    var inCart = (cartState.getAttribute("data-photos") || "").split(" ").filter(Boolean);
    try { localStorage.setItem(cartKey, JSON.stringify(inCart)); } catch (e) { /* private mode */ }
    var pay = document.querySelector('form[action$="/checkout"]');
    if (pay && signedIn) pay.addEventListener("submit", function () { try { localStorage.removeItem(cartKey); } catch (e) { /* none */ } });
  }

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

  // ---- Order page: follow the status until it settles ----
  var order = document.getElementById("order");
  if (order && /^(pending|paid)$/.test(order.getAttribute("data-status"))) {
    var was = order.getAttribute("data-status");
    var tries = 0;
    var check = function () {
      api("GET", "/api/v1/orders/" + order.getAttribute("data-order")).then(function (r) { return r.json(); }).then(function (o) {
        if (o.status !== was) window.location.reload();
        else if (++tries < 150) setTimeout(check, 2000);
      }, function () { if (++tries < 150) setTimeout(check, 4000); });
    };
    setTimeout(check, 1500);
  }

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

  localTimes();
})();
