"""A line to the Market API that a test can cut: a TCP listener that accepts every connection and then
either holds it without a word (a black hole: the request goes out, no answer ever comes back) or
forwards it, byte for byte, to a real endpoint (the simulator's fake Market API).

    with MarketLine() as line:           # holding
        ...push: every request times out...
        line.forward_to(sim.endpoint)    # answering from now on (new connections)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class MarketLine:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._upstream: tuple[str, int] | None = None
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0  # accepted so far, held or forwarded
        self._thread = threading.Thread(target=self._accept, name="market-line", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """What ``KAITONG_ALIYUN_MARKET_ENDPOINT`` (the SDK's ``Config.endpoint``) should be."""
        return f"127.0.0.1:{self.port}"

    def forward_to(self, endpoint: str) -> None:
        """From now on, new connections are passed to ``endpoint`` (host:port) and answered from there."""
        host, port = endpoint.rsplit(":", 1)
        with self._lock:
            self._upstream = (host, int(port))

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections += 1
                upstream = self._upstream
                if upstream is None:
                    self._held.append(conn)  # kept open, never read, never answered
                    continue
            threading.Thread(target=self._forward, args=(conn, upstream), daemon=True).start()

    @staticmethod
    def _forward(conn: socket.socket, upstream: tuple[str, int]) -> None:
        with conn, socket.create_connection(upstream) as far:

            def pump(source: socket.socket, sink: socket.socket) -> None:
                try:
                    while data := source.recv(65536):
                        sink.sendall(data)
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

            back = threading.Thread(target=pump, args=(far, conn), daemon=True)
            back.start()
            pump(conn, far)
            back.join()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept() (Linux)
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            for conn in self._held:
                conn.close()
            self._held.clear()

    def __enter__(self) -> MarketLine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
