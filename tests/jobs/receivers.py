"""Real message receivers on loopback for the alert tests: an SMTP server (aiosmtpd) and an HTTP
receiver (the standard library's threading server), each keeping what it received."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1: ``messages`` holds (from, to, subject, text body)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = msg.get_body(preferencelist=("plain", "html"))
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "subject": str(msg["subject"]), "body": part.get_content() if part else ""})
                return "250 OK"

        for _ in range(5):  # the port is free when chosen; another process may take it before we bind
            self.port = _free_port()
            self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
            try:
                self._controller.start()
                break
            except (OSError, RuntimeError):
                time.sleep(0.2)
        else:
            raise RuntimeError("no free port for the SMTP receiver")

    def url(self, to: str = "ops@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=workbench@example.org&to={to}&mode=insecure"

    def close(self) -> None:
        self._controller.stop()


class HttpReceiver:
    """A threading HTTP server on 127.0.0.1: ``messages`` holds (path, JSON body, time received)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = {"raw": body.decode("utf-8", "replace")}
                outer.messages.append({"path": self.path, "json": data, "at": time.time()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
