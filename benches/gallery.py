"""Measures the gallery page in headless Chromium (see benches/gallery.sh)."""

import gzip
import os
import statistics

from playwright.sync_api import sync_playwright

URL = os.environ["GALLERY_URL"]
RUNS = int(os.environ.get("RUNS", "7"))
PHOTOS = os.environ.get("PHOTOS", "?")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def row(what, value, target, ok):
    print(f"{what:<44} {value:>14}   target {target:<12} {'met' if ok else 'MISSED'}")


with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path=os.environ["CHROMIUM"], args=ARGS)

    # The HTML as served, and the assets it names.
    ctx = browser.new_context()
    html = ctx.request.get(URL, headers={"accept-encoding": "identity"}).body()
    page = ctx.new_page()
    assets = {}

    def on_response(resp):
        if resp.request.resource_type in ("script", "stylesheet"):
            assets[resp.url] = resp.body()

    page.on("response", on_response)
    page.goto(URL, wait_until="load")
    ctx.close()
    asset_raw = sum(len(b) for b in assets.values())
    asset_gz = sum(len(gzip.compress(b, 9)) for b in assets.values())

    # DOMContentLoaded, each load in a fresh context (no cache).
    dcl = []
    for _ in range(RUNS):
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(URL, wait_until="load")
        dcl.append(page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n.domContentLoadedEventEnd - n.startTime; }"))
        ctx.close()

    # Images asked for before any scroll, at a desktop and a phone width.
    before_scroll = {}
    for width, height in ((1440, 900), (375, 812)):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        page = ctx.new_page()
        images = []
        page.on("request", lambda r, images=images: images.append(r.url) if r.resource_type == "image" else None)
        page.goto(URL, wait_until="networkidle")
        page.wait_for_timeout(500)
        before_scroll[width] = len(images)
        ctx.close()
    # Layout shifts while the page loads and scrolls to its end (more
    # photos arrive as it goes), summed as CLS's session windows are.
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    # CLS as web-vitals defines it: shifts without recent input, grouped
    # in session windows (gaps under 1 s, at most 5 s long); the largest
    # window's sum. The page is scrolled a screen every 150 ms (a quick
    # flick through the whole album).
    page.add_init_script(
        "window.__cls = 0; let win = 0, first = 0, last = 0;"
        "new PerformanceObserver(l => { for (const e of l.getEntries()) { if (e.hadRecentInput) continue;"
        " if (win && e.startTime - last < 1000 && e.startTime - first < 5000) { win += e.value; }"
        " else { win = e.value; first = e.startTime; }"
        " last = e.startTime; window.__cls = Math.max(window.__cls, win); } })"
        ".observe({type: 'layout-shift', buffered: true});")
    page.goto(URL, wait_until="load")
    for _ in range(600):
        done = page.evaluate("() => { window.scrollBy(0, 700); return innerHeight + scrollY >= document.body.scrollHeight - 2; }")
        page.wait_for_timeout(150)
        if done and page.evaluate("() => document.querySelectorAll('#gallery > li').length") >= int(PHOTOS):
            break
    shown = page.evaluate("() => document.querySelectorAll('#gallery > li').length")
    cls = page.evaluate("() => window.__cls")
    ctx.close()

    # The cover's Largest Contentful Paint on an emulated 4G link (20 ms
    # latency, 9 Mbit/s down, 1.5 up: Lighthouse's "fast 4G"), no cache.
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20,
             "downloadThroughput": 9_000_000 / 8, "uploadThroughput": 1_500_000 / 8})
    page.add_init_script(
        "window.__lcp = 0; new PerformanceObserver(l => { for (const e of l.getEntries())"
        " window.__lcp = e.startTime; }).observe({type: 'largest-contentful-paint', buffered: true});")
    page.goto(URL, wait_until="load")
    page.wait_for_timeout(500)
    lcp = page.evaluate("() => window.__lcp")
    ctx.close()

    # The studio of a 2,000-photo album, as its owner opens it.
    studio_url, studio_token = os.environ.get("STUDIO_URL"), os.environ.get("STUDIO_TOKEN")
    studio = None
    if studio_url and studio_token:
        host = studio_url.split("/")[2].split(":")[0]
        ctx = browser.new_context()
        ctx.add_cookies([{"name": "ps_session", "value": studio_token, "domain": host, "path": "/"}])
        body = ctx.request.get(studio_url, headers={"accept-encoding": "identity"}).body()
        loads = []
        for _ in range(RUNS):
            page = ctx.new_page()
            page.goto(studio_url, wait_until="load")
            loads.append(page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.domContentLoadedEventEnd - n.startTime; }"))
            tiles = page.evaluate("() => document.querySelectorAll('#photos > li').length")
            page.close()
        studio = (len(body), statistics.median(loads), tiles)
        ctx.close()
    browser.close()

print(f"gallery of {PHOTOS} ready photos, anonymous visitor, headless Chromium, {os.cpu_count()} cores")
row("HTML bytes (uncompressed)", f"{len(html):,} B", "< 150 KB", len(html) < 150_000)
med = statistics.median(dcl)
row(f"DOMContentLoaded, median of {RUNS}", f"{med:.0f} ms", "< 500 ms", med < 500)
print(f"{'  (min / max)':<44} {min(dcl):>6.0f} / {max(dcl):.0f} ms")
for width, n in before_scroll.items():
    row(f"images requested before scrolling, {width} px", n, "<= 60", n <= 60)
row("JS + CSS shipped (uncompressed)", f"{asset_raw:,} B", "< 100 KB", asset_raw < 100_000)
row("JS + CSS shipped (gzip -9)", f"{asset_gz:,} B", "< 30 KB", asset_gz < 30_000)
row(f"layout shift, loading and scrolling ({shown} shown)", f"{cls:.4f}", "<= 0.02", cls <= 0.02)
row("cover LCP, emulated fast 4G", f"{lcp:.0f} ms", "< 1500 ms", lcp < 1500)
if studio:
    n = os.environ.get("STUDIO_PHOTOS", "?")
    row(f"studio of {n} photos: HTML ({studio[2]} tiles a page)", f"{studio[0]:,} B", "< 300 KB", studio[0] < 300_000)
    row(f"studio of {n} photos: DOMContentLoaded", f"{studio[1]:.0f} ms", "< 1000 ms", studio[1] < 1000)
