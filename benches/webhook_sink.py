"""A fast webhook receiver for benches/webhooks.sh: asyncio, HTTP/1.1
keep-alive, every delivery verified with the official standardwebhooks
library, answered 204. (The tests' receiver, a thread per connection, is
built to script answers, not for speed: it tops out near 180 requests/s
here.)

    POST /_config/<name>  {"secrets": [...]}
    GET  /_stats          {"received": n, "unverified": m}

The first line on stdout is the port.
"""
import asyncio
import json

from standardwebhooks import Webhook

secrets = {}
stats = {"received": 0, "unverified": 0}


def answer(status, body=b""):
    reason = {200: "OK", 204: "No Content", 404: "Not Found"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(body)}\r\ncontent-type: application/json\r\n\r\n"
    return head.encode() + body


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            parts = path.strip("/").split("/")
            if method == "GET" and parts == ["_stats"]:
                writer.write(answer(200, json.dumps(stats).encode()))
            elif method == "POST" and len(parts) == 2 and parts[0] == "_config":
                secrets[parts[1]] = Webhook(json.loads(body)["secrets"][0])
                writer.write(answer(204))
            elif method == "POST" and len(parts) == 2 and parts[0] == "hook":
                stats["received"] += 1
                try:
                    secrets[parts[1]].verify(body, headers)
                except Exception:
                    stats["unverified"] += 1
                writer.write(answer(204))
            else:
                writer.write(answer(404))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
