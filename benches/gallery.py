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
    browser.close()

print(f"gallery of {PHOTOS} ready photos, anonymous visitor, headless Chromium, {os.cpu_count()} cores")
row("HTML bytes (uncompressed)", f"{len(html):,} B", "< 150 KB", len(html) < 150_000)
med = statistics.median(dcl)
row(f"DOMContentLoaded, median of {RUNS}", f"{med:.0f} ms", "< 500 ms", med < 500)
print(f"{'  (min / max)':<44} {min(dcl):>6.0f} / {max(dcl):.0f} ms")
for width, n in before_scroll.items():
    row(f"images requested before scrolling, {width} px", n, "<= 60", n <= 60)
row("JS + CSS shipped (uncompressed)", f"{asset_raw:,} B", "< 100 KB", asset_raw < 100_000)
print(f"{'  (gzip -9)':<44} {asset_gz:>12,} B")
