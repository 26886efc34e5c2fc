"""What the Python benchmarks share: API calls and a seeded photographer."""
import os
import subprocess
import time

import requests

BASE = os.environ["PROOFSHEET_URL"]


def api(method, path, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    r = requests.request(method, f"{BASE}/api/v1{path}", headers=headers, **kw)
    r.raise_for_status()
    return r


def seed(tag):
    """A new photographer (signed in) and a private album of theirs."""
    email = f"bench-{time.time_ns()}@{tag}.test"
    api("POST", "/users", json={"email": email, "password": "correct horse", "name": "B", "surname": "U", "role": "photographer"})
    # Only a proven address signs in: the operator vouches for it
    # (PROOFSHEET_BENCH_ADMIN, written by benches/server.sh).
    subprocess.run([os.environ["PROOFSHEET_BENCH_ADMIN"], "verify-email", "--email", email], check=True, capture_output=True)
    token = api("POST", "/sessions", json={"email": email, "password": "correct horse"}).json()["token"]
    album = api("POST", "/albums", token, json={"name": "Bench", "visibility": "private", "price_per_photo": {"amount": 500, "currency": "EUR"}}).json()["id"]
    return token, album
