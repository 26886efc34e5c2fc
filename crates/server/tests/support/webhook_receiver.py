"""A webhook receiver on loopback for the webhook tests.

Every delivery to /hook/<name> is verified with the official Standard
Webhooks library (PyPI `standardwebhooks`) against each secret configured
for <name>, recorded, and answered as configured:

    POST /_config/<name>  {"secrets": [...], "script": [500, 200],
                           "retry_after": "2", "hang": 5}

`script` is the status of each delivery in turn (the last one repeats);
`hang` makes it wait that many seconds before answering. GET /_log answers
every delivery received so far. The first line on stdout is the port.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

lock = threading.Lock()
configs = {}
log = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_log":
            with lock:
                body = json.dumps(log).encode()
            return self.reply(200, body, [("content-type", "application/json")])
        self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "_config":
            with lock:
                configs[parts[1]] = dict(json.loads(body), seen=0)
            return self.reply(204)
        if len(parts) != 2 or parts[0] != "hook":
            return self.reply(404)
        name = parts[1]
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            config = configs.get(name, {"secrets": [], "script": [200]})
            n = config["seen"] = config.get("seen", 0) + 1
        verified = []
        for secret in config.get("secrets", []):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(True)
            except Exception:
                verified.append(False)
        script = config.get("script") or [200]
        status = script[min(n, len(script)) - 1]
        entry = {
            "name": name,
            "n": n,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signatures": len(headers.get("webhook-signature", "").split()),
            "verified": verified,
            "body": json.loads(body or b"null"),
            "status": status,
            "received_at": time.time(),
        }
        with lock:
            log.append(entry)
        if config.get("hang"):
            time.sleep(config["hang"])
        extra = []
        if config.get("retry_after"):
            extra.append(("retry-after", config["retry_after"]))
        self.reply(status, json.dumps({"got": entry["id"], "n": n}).encode(), extra)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
