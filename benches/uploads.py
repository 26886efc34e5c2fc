"""Upload throughput: the same files sent as plain uploads (one POST per
file) and as tus uploads (tuspy, CHUNK_MB chunks), side by side, against a
running server. Prints MB/s for each, the ratio, and the per-request
latency of GET /healthz measured while the uploads run.

Each file is a small 640x480 JPEG carrying SIZE_MB of random bytes in
APP15 segments before its image data: big on the wire, cheap to render,
so the figures are about moving bytes, not about previews.
"""
import io
import json
import os
import statistics
import sys
import threading
import time

import requests

import benchlib
from benchlib import BASE, api
from PIL import Image
from tusclient import client as tus_client

FILES = int(os.environ.get("FILES", "8"))
SIZE_MB = float(os.environ.get("SIZE_MB", "20"))
CHUNK_MB = float(os.environ.get("CHUNK_MB", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
TMP = os.environ.get("TMPDIR", "/tmp")


def big_jpeg(seed, size):
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (seed * 40 % 255, 90, 160)).save(buf, "JPEG", quality=85)
    small = buf.getvalue()
    sos = small.index(b"\xff\xda")
    rnd = os.urandom(size)
    segments = bytearray()
    for i in range(0, len(rnd), 65000):
        part = rnd[i : i + 65000]
        segments += b"\xff\xef" + (len(part) + 2).to_bytes(2, "big") + part
    return small[:sos] + bytes(segments) + small[sos:]


def seed():
    return benchlib.seed("uploads")


def plain(token, album, paths):
    for p in paths:
        with open(p, "rb") as f:
            api("POST", f"/albums/{album}/photos?filename={os.path.basename(p)}", token,
                headers={"content-type": "image/jpeg"}, data=f)


def tus(token, album, paths):
    client = tus_client.TusClient(f"{BASE}/api/v1/albums/{album}/uploads", headers={"Authorization": f"Bearer {token}"})
    for p in paths:
        client.uploader(p, chunk_size=int(CHUNK_MB * 1024 * 1024), metadata={"filename": os.path.basename(p)}).upload()


def probe_latency(stop, out):
    s = requests.Session()
    while not stop.is_set():
        t = time.perf_counter()
        s.get(f"{BASE}/healthz")
        out.append((time.perf_counter() - t) * 1000)
        time.sleep(0.05)


def timed(fn, *args):
    stop, lat = threading.Event(), []
    t = threading.Thread(target=probe_latency, args=(stop, lat))
    t.start()
    start = time.perf_counter()
    fn(*args)
    took = time.perf_counter() - start
    stop.set()
    t.join()
    return took, lat


def main():
    token, album = seed()
    paths = []
    for i in range(FILES):
        p = os.path.join(TMP, f"bench-upload-{i}.jpg")
        with open(p, "wb") as f:
            f.write(big_jpeg(i, int(SIZE_MB * 1024 * 1024)))
        paths.append(p)
    total = sum(os.path.getsize(p) for p in paths) / 1e6
    results = {"plain": [], "tus": []}
    lats = {"plain": [], "tus": []}
    for _ in range(ROUNDS):
        for name, fn in (("plain", plain), ("tus", tus)):
            took, lat = timed(fn, token, album, paths)
            results[name].append(total / took)
            lats[name] += lat
    for p in paths:
        os.remove(p)
    med = {k: statistics.median(v) for k, v in results.items()}
    p99 = {k: (sorted(v)[int(len(v) * 0.99) - 1] if v else float("nan")) for k, v in lats.items()}
    print(f"{FILES} files of {SIZE_MB:g} MB ({total:.0f} MB a round), {ROUNDS} rounds, tus chunks of {CHUNK_MB:g} MB")
    print(f"{'':8} {'MB/s (median)':>14} {'healthz p50 ms':>15} {'healthz p99 ms':>15}")
    for k in ("plain", "tus"):
        print(f"{k:8} {med[k]:14.1f} {statistics.median(lats[k]):15.2f} {p99[k]:15.2f}")
    print(f"tus / plain: {med['tus'] / med['plain']:.2f} (target: at least 0.80)")
    print(json.dumps({"plain_mb_s": med["plain"], "tus_mb_s": med["tus"], "ratio": med["tus"] / med["plain"]}))


if __name__ == "__main__":
    sys.exit(main())
