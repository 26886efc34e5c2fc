"""Drives a resumable upload with tuspy (the tus project's Python client)
through a TCP proxy on loopback that breaks the connection once, mid-file,
after `cut_after` bytes have gone up. tuspy then asks the server how far
it got (HEAD) and resumes from there.

usage: tus_client.py URL TOKEN FILE CHUNK_SIZE CHECKSUM(0|1) CUT_AFTER
prints one JSON line: {"photo_id", "cuts", "offsets", "heads", "url"}
(offsets after each chunk; heads: the offsets HEAD reported on resuming).
"""
import json
import socket
import sys
import threading
from urllib.parse import urlsplit

from tusclient import client as tus_client


class CuttingProxy:
    """Forwards connections to the server; once more than `cut_after` bytes
    have gone upstream (over all connections), the connection carrying
    them is closed on both sides, once."""

    def __init__(self, upstream, cut_after):
        self.upstream = upstream
        self.cut_after = cut_after
        self.cuts = 0
        self.sent = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.listener.accept()
            up = socket.create_connection(self.upstream)
            threading.Thread(target=self.pump_up, args=(conn, up), daemon=True).start()
            threading.Thread(target=self.pump_down, args=(up, conn), daemon=True).start()

    def pump_up(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    before = self.sent
                    self.sent += len(data)
                    cut = self.cuts == 0 and self.cut_after > 0 and self.sent > self.cut_after
                    if cut:
                        self.cuts += 1
                if cut:
                    dst.sendall(data[: self.cut_after - before])
                    # The server gets an orderly end of stream (so every
                    # byte sent reaches it, then the body is short); the
                    # client a connection reset.
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    try:
                        src.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        src.close()
                    except OSError:
                        pass
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def pump_down(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    url, token, path, chunk_size, checksum, cut_after = sys.argv[1:7]
    parts = urlsplit(url)
    proxy = CuttingProxy((parts.hostname, parts.port), int(cut_after))
    proxied = f"{parts.scheme}://127.0.0.1:{proxy.port}{parts.path}"
    client = tus_client.TusClient(proxied, headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(
        path,
        chunk_size=int(chunk_size),
        metadata={"filename": path.rsplit("/", 1)[-1]},
        retries=8,
        retry_delay=1.0,
        upload_checksum=checksum == "1",
    )
    heads = []
    ask = uploader.get_offset

    def head():
        offset = ask()
        heads.append(offset)
        return offset

    uploader.get_offset = head
    uploader.set_url(uploader.create_url())
    uploader.offset = 0
    offsets = []
    while uploader.offset < uploader.get_file_size():
        uploader.upload_chunk()
        offsets.append(uploader.offset)
    photo = uploader.request.response_headers.get("proofsheet-photo-id")
    print(json.dumps({"photo_id": photo, "cuts": proxy.cuts, "offsets": offsets, "heads": heads, "url": uploader.url}))


if __name__ == "__main__":
    main()
