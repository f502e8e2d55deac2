"""A webhook receiver on 127.0.0.1 (a ThreadingHTTPServer) that verifies what it gets with
the ``standardwebhooks`` package, as an integrator's server would, and answers from a script:
one (status, body bytes) per call, the last one repeating."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> dict:
        """The payload, or the package's WebhookVerificationError."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str = ""
    script: list[tuple[int, bytes]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiver(
    script: list[tuple[int, bytes]] | None = None, *, delay: float = 0.0
) -> Iterator[Receiver]:
    """``delay`` seconds per call make a slow receiver (so that two workers overlap)."""
    state = Receiver(script=list(script or [(200, b'{"ok":true}')]))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if delay:
                time.sleep(delay)
            with state.lock:
                state.calls.append(Call({k.lower(): v for k, v in self.headers.items()}, body))
                status, data = state.script.pop(0) if len(state.script) > 1 else state.script[0]
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
