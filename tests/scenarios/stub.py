"""A tiny HTTP server on 127.0.0.1 standing in for a provider: it records what it receives
and answers with canned responses, in order (the last one repeats)."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes


@dataclass
class Stub:
    url: str
    responses: list[tuple[int, dict]]
    received: list[Received] = field(default_factory=list)


@contextmanager
def stub_server(responses: list[tuple[int, dict]]) -> Iterator[Stub]:
    state = Stub(url="", responses=list(responses))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.received.append(
                Received("POST", self.path, dict(self.headers), self.rfile.read(length))
            )
            status, payload = (
                state.responses.pop(0) if len(state.responses) > 1 else state.responses[0]
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
