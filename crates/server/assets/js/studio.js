// Proofsheet web app: the studio's grid: uploads with their progress, and each photo's status until it is ready.
// Loaded by the markup it serves; uses window.Proofsheet (common.js).
(function () {
  "use strict";
  var P = window.Proofsheet, csrf = P.csrf, el = P.el, api = P.api;

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
      var count = document.getElementById("photo-count");
      if (count) count.textContent = String((parseInt(count.textContent, 10) || 0) + 1);
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
    var carriesFiles = function (e) { return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") >= 0; };
    document.addEventListener("dragover", function (e) {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      document.body.classList.add("dragging");
    });
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

  // Drag to reorder: a photo dropped on another goes just before it (the
  // left half) or just after it (the right half). The move is the grid's
  // own form (before:ID / after:ID with `of`), so it is saved as "Move
  // earlier" is; the tile moves once the server said yes.
  var actions = document.getElementById("photo-actions");
  if (photos && actions) reorder(photos, actions);

  function reorder(grid, form) {
    var said = document.getElementById("order-live");
    var dragged = null;
    var name = function (li) { var n = li.querySelector(".name"); return n ? n.textContent : "the photo"; };
    var unmark = function () {
      grid.querySelectorAll(".drop-before, .drop-after").forEach(function (li) { li.classList.remove("drop-before", "drop-after"); });
    };
    var tileAt = function (e) { var li = e.target.closest && e.target.closest("li[data-photo]"); return li && li.getAttribute("data-photo") ? li : null; };
    var arm = function (li) { if (li.getAttribute("data-photo")) li.setAttribute("draggable", "true"); };
    grid.querySelectorAll("li[data-photo]").forEach(arm);
    new MutationObserver(function () { grid.querySelectorAll("li[data-photo]:not([draggable])").forEach(arm); })
      .observe(grid, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-photo"] });
    grid.addEventListener("dragstart", function (e) {
      var li = tileAt(e);
      if (!li || li.getAttribute("data-status") === "uploading") return;
      dragged = li;
      li.classList.add("lifted");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", name(li));
    });
    grid.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("lifted");
      dragged = null;
      unmark();
    });
    grid.addEventListener("dragover", function (e) {
      var li = tileAt(e);
      if (!dragged || !li || li === dragged) return;
      e.preventDefault();
      var r = li.getBoundingClientRect();
      unmark();
      li.classList.add(e.clientX > r.left + r.width / 2 ? "drop-after" : "drop-before");
    });
    grid.addEventListener("drop", function (e) {
      var li = tileAt(e);
      if (!dragged || !li || li === dragged) return;
      e.preventDefault();
      var after = li.classList.contains("drop-after"), moved = dragged;
      unmark();
      var data = new URLSearchParams();
      data.set("csrf", form.querySelector('input[name="csrf"]').value);
      data.set("act", (after ? "after:" : "before:") + moved.getAttribute("data-photo"));
      data.set("of", li.getAttribute("data-photo"));
      said.textContent = "Moving " + name(moved) + "\u2026";
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin", redirect: "manual" }).then(function (r) {
        if (r.type !== "opaqueredirect" && !r.ok) throw new Error("status " + r.status);
        if (after) li.after(moved); else li.before(moved);
        said.textContent = "Moved " + name(moved) + (after ? " after " : " before ") + name(li) + ".";
      }).catch(function (err) { said.textContent = name(moved) + " was not moved: " + err.message; });
    });
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
})();
