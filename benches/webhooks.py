"""Webhook deliveries per second, with API latency beside it.

Against a running server and a running tests/support/webhook_receiver.py:
makes ENDPOINTS endpoints, measures GET /albums/{id}/photos latency while
idle, then queues EVENTS deliveries (test pings, spread over the endpoints,
sent by a few threads) and measures how fast the receiver gets them, all
verified, while the same latency probe runs. Prints deliveries/s and the
API's p50/p99 idle and busy, with their ratio.
"""
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

import benchlib
from benchlib import BASE, api

RX = os.environ["RECEIVER_URL"]
EVENTS = int(os.environ.get("EVENTS", "2000"))
ENDPOINTS = int(os.environ.get("ENDPOINTS", "4"))
PROBE_SECONDS = float(os.environ.get("PROBE_SECONDS", "5"))


def seed():
    token, album = benchlib.seed("webhooks")
    hooks = []
    for i in range(ENDPOINTS):
        w = api("POST", "/webhooks", token, json={"url": f"{RX}/hook/bench{i}", "events": ["order.paid"]}).json()
        requests.post(f"{RX}/_config/bench{i}", json={"secrets": [w["secret"]]}).raise_for_status()
        hooks.append(w["id"])
    return token, album, hooks


def probe(token, album, stop, out):
    s = requests.Session()
    while not stop.is_set():
        t = time.perf_counter()
        s.get(f"{BASE}/api/v1/albums/{album}/photos", headers={"authorization": f"Bearer {token}"}).raise_for_status()
        out.append(time.perf_counter() - t)
        time.sleep(0.01)


def percentiles(xs):
    xs = sorted(xs)
    return statistics.median(xs) * 1000, xs[int(len(xs) * 0.99) - 1] * 1000


def received():
    return requests.get(f"{RX}/_stats").json()["received"]


def main():
    token, album, hooks = seed()
    idle = []
    stop = threading.Event()
    t = threading.Thread(target=probe, args=(token, album, stop, idle))
    t.start()
    time.sleep(PROBE_SECONDS)
    stop.set()
    t.join()

    busy = []
    stop = threading.Event()
    t = threading.Thread(target=probe, args=(token, album, stop, busy))
    t.start()
    started = time.perf_counter()
    session = requests.Session()

    def ping(i):
        session.post(f"{BASE}/api/v1/webhooks/{hooks[i % len(hooks)]}/test", headers={"authorization": f"Bearer {token}"}).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ping, range(EVENTS)))
    queued = time.perf_counter() - started
    at_queued = received()
    while True:
        if received() >= EVENTS:
            break
        time.sleep(0.2)
    took = time.perf_counter() - started
    stop.set()
    t.join()
    stats = requests.get(f"{RX}/_stats").json()
    assert stats["unverified"] == 0, stats
    idle50, idle99 = percentiles(idle)
    busy50, busy99 = percentiles(busy)
    print(f"deliveries: {EVENTS} to {ENDPOINTS} endpoints, all verified by standardwebhooks")
    print(f"  queued in {queued:.2f} s ({EVENTS / queued:.0f} test requests/s)")
    print(f"  delivered in {took:.2f} s: {EVENTS / took:.0f} deliveries/s")
    if took > queued and at_queued < EVENTS:
        print(f"  after the queueing ended: {(EVENTS - at_queued) / (took - queued):.0f} deliveries/s "
              f"({at_queued} had arrived while it ran)")
    print(f"API latency, GET /albums/{{id}}/photos: idle p50 {idle50:.1f} ms p99 {idle99:.1f} ms ({len(idle)} requests)")
    print(f"                       while delivering: p50 {busy50:.1f} ms p99 {busy99:.1f} ms ({len(busy)} requests)")
    print(f"  ratio busy/idle: p50 {busy50 / idle50:.2f}x, p99 {busy99 / idle99:.2f}x")


if __name__ == "__main__":
    main()
