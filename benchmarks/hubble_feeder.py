"""A gRPC stream source that is not the bottleneck, for benchmarks/hubble_bench.py.

grpcio's own server spends ~25 us of CPU per streamed message, more than the client we
want to measure. This feeder speaks just enough HTTP/2 (RFC 9113) to serve any unary-
stream call: it answers every request with the same pre-encoded gRPC message frames,
repeated, honouring the client's flow-control windows and answering its PINGs. Cost:
one `sendall` of up to 256 KiB per window update, ~1-2 % of a core at 100,000 msg/s.

    python -m benchmarks.hubble_feeder BLOBS_FILE REPEAT [vary]  # prints the port, serves

With `vary`, each repetition carries fresh uuids (see Variants).

BLOBS_FILE: serialized messages, each prefixed with a 4-byte big-endian length.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from pathlib import Path

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
# HPACK: ":status: 200" (static index 8), "content-type: application/grpc" (indexed name 31)
RESPONSE_HEADERS = b"\x88\x5f\x10application/grpc"
# "grpc-status: 0" as a literal with a new name, not indexed
TRAILERS = b"\x00\x0bgrpc-status\x010"


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes((kind, flags))
        + struct.pack(">I", stream)
        + payload
    )


def grpc_frames(blobs: list[bytes]) -> bytes:
    return b"".join(b"\x00" + struct.pack(">I", len(b)) + b for b in blobs)


def read_blobs(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def write_blobs(path: Path, blobs: list[bytes]) -> None:
    path.write_bytes(b"".join(struct.pack(">I", len(b)) + b for b in blobs))


PLACEHOLDER = b"zzzzzzzz"
"""The last 8 characters of every uuid in the blobs (benchmarks.hubble_bench puts it
there); each repetition replaces it with its own number."""


class Variants:
    """The blobs again with fresh uuids on every repetition, so a consumer's
    de-duplication memory sees a live stream, not replays of one uuid set: one
    `bytes.replace` over the encoded payload per repetition (the uuid keeps its length)."""

    def __init__(self, blobs: list[bytes]) -> None:
        self.base = grpc_frames(blobs)

    def payload(self, rep: int) -> bytes:
        return self.base.replace(PLACEHOLDER, f"{rep:08x}".encode())


class _Conn:
    def __init__(
        self, sock: socket.socket, payload: bytes, repeat: int, variants: Variants | None = None
    ) -> None:
        self.sock = sock
        self.payload = payload
        self.repeat = repeat
        self.variants = variants
        self.wlock = threading.Lock()
        self.cond = threading.Condition()
        self.conn_window = 65_535
        self.initial_window = 65_535
        self.windows: dict[int, int] = {}
        self.max_frame = 16_384
        self.closed = False
        self.requests: list[int] = []

    def send(self, data: bytes) -> None:
        with self.wlock:
            self.sock.sendall(data)

    def recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def reader(self) -> None:
        try:
            if self.recv_exact(len(PREFACE)) != PREFACE:
                raise ConnectionError("not HTTP/2")
            self.send(frame(SETTINGS, 0, 0))
            while True:
                head = self.recv_exact(9)
                length = int.from_bytes(head[:3], "big")
                kind, flags = head[3], head[4]
                stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                payload = self.recv_exact(length) if length else b""
                self.on_frame(kind, flags, stream, payload)
        except (ConnectionError, OSError):
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def on_frame(self, kind: int, flags: int, stream: int, payload: bytes) -> None:
        if kind == SETTINGS and not flags & ACK:
            with self.cond:
                for i in range(0, len(payload), 6):
                    key, value = struct.unpack_from(">HI", payload, i)
                    if key == 4:
                        delta = value - self.initial_window
                        self.initial_window = value
                        for s in self.windows:
                            self.windows[s] += delta
                    elif key == 5:
                        self.max_frame = value
                self.cond.notify_all()
            self.send(frame(SETTINGS, ACK, 0))
        elif kind == WINDOW_UPDATE:
            (inc,) = struct.unpack(">I", payload)
            with self.cond:
                if stream == 0:
                    self.conn_window += inc & 0x7FFFFFFF
                elif stream in self.windows:
                    self.windows[stream] += inc & 0x7FFFFFFF
                self.cond.notify_all()
        elif kind == PING and not flags & ACK:
            self.send(frame(PING, ACK, 0, payload))
        elif kind == HEADERS:
            with self.cond:
                self.windows[stream] = self.initial_window
                self.requests.append(stream)
                self.cond.notify_all()
        elif kind in (RST_STREAM, GOAWAY):
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def writer(self) -> None:
        while True:
            with self.cond:
                while not self.requests and not self.closed:
                    self.cond.wait()
                if self.closed:
                    return
                stream = self.requests.pop(0)
            self.stream(stream)

    def stream(self, sid: int) -> None:
        self.send(frame(HEADERS, END_HEADERS, sid, RESPONSE_HEADERS))
        if self.variants is not None:
            for rep in range(self.repeat):
                if not self.send_payload(sid, self.variants.payload(rep), 1):
                    return
        elif not self.send_payload(sid, self.payload, self.repeat):
            return
        self.send(frame(HEADERS, END_STREAM | END_HEADERS, sid, TRAILERS))

    def send_payload(self, sid: int, data: bytes, repeat: int) -> bool:
        payload = memoryview(data)
        size = len(payload)
        total = size * repeat
        sent = 0
        while sent < total:
            with self.cond:
                while (self.conn_window <= 0 or self.windows[sid] <= 0) and not self.closed:
                    self.cond.wait()
                if self.closed:
                    return False
                allowed = min(self.conn_window, self.windows[sid], total - sent, 262_144)
                self.conn_window -= allowed
                self.windows[sid] -= allowed
                max_frame = self.max_frame
            out = bytearray()
            while allowed:
                n = min(allowed, max_frame)
                start = sent % size
                chunk = bytes(payload[start : start + n])
                if len(chunk) < n:
                    chunk += bytes(payload[: n - len(chunk)])
                out += frame(DATA, 0, sid, chunk)
                sent += n
                allowed -= n
            self.send(bytes(out))
        return True


def serve(
    payload: bytes, repeat: int, variants: Variants | None = None
) -> tuple[socket.socket, int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, payload, repeat, variants)
            threading.Thread(target=conn.reader, daemon=True).start()
            threading.Thread(target=conn.writer, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, port


def main() -> None:
    blobs = read_blobs(Path(sys.argv[1]))
    repeat = int(sys.argv[2])
    variants = Variants(blobs) if len(sys.argv) > 3 and sys.argv[3] == "vary" else None
    _listener, port = serve(grpc_frames(blobs), repeat, variants)
    print(port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
