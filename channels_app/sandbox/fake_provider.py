"""A fake of the three providers' APIs we call: WhatsApp Cloud API, Messenger Send API, Twilio.

It answers like the provider, records what was sent (GET /sent as JSON, GET / as a page), serves
sample media for inbound attachments, and can be told to fail (5xx n times, or a 4xx) for tests.
Paths start with the provider's kind, so an asset's api_base_url is <server>/<kind>:
  /whatsapp/<phone-number-id>/messages    POST send or mark read
  /whatsapp/<media-id>                    GET media info, then /whatsapp/media/<id>/download
  /messenger/<page-id>/messages           POST send or sender action
  /sms/2010-04-01/Accounts/<sid>/Messages.json   POST send (Twilio form)
  /email/messages.mime                             POST send (raw MIME, see sandbox/mail.py)
  /<kind>/media/<id>/download             GET media bytes
  /sent  /  POST /_fail  POST /_reset  POST /_media (upload bytes, returns an id)

The same FakeProvider serves both the standalone server (serve / start_in_thread) and the views
mounted at /sandbox/provider/ in the demo.
"""

import base64
import html
import itertools
import json
import re
import struct
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

APPROVED_TEMPLATES = {"hello_world", "order_update", "reengage_customer"}


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


SAMPLE_MEDIA: dict[str, tuple[bytes, str, str]] = {
    "sample-image": (_png(), "image/png", "photo.png"),
    "sample-voice": (
        b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead\x01\x01" + b"\x00" * 64,
        "audio/ogg; codecs=opus",
        "voice.ogg",
    ),
    "sample-audio": (
        b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 32,
        "audio/mpeg",
        "song.mp3",
    ),
    "sample-document": (
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "application/pdf",
        "invoice.pdf",
    ),
    "sample-video": (
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32,
        "video/mp4",
        "clip.mp4",
    ),
    "sample-sticker": (
        b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + b"\x00" * 24,
        "image/webp",
        "sticker.webp",
    ),
}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, data: Any, status: int = 200) -> "Response":
        return cls(status, json.dumps(data).encode())


@dataclass
class Failure:
    status: int
    kind: str = ""  # empty: any provider
    remaining: int = 1
    message: str = ""


@dataclass
class FakeProvider:
    sent: list[dict] = field(default_factory=list)
    media: dict[str, tuple[bytes, str, str]] = field(default_factory=lambda: dict(SAMPLE_MEDIA))
    failures: list[Failure] = field(default_factory=list)
    idempotent: dict[str, dict] = field(default_factory=dict)
    requests: int = 0

    def __post_init__(self):
        self.lock = threading.Lock()
        self.counter = itertools.count(1)

    # --- what tests and the control endpoints use ---------------------------------------------
    def fail_next(
        self, *, status: int = 503, times: int = 1, kind: str = "", message: str = ""
    ) -> None:
        with self.lock:
            self.failures.append(
                Failure(status=status, kind=kind, remaining=times, message=message)
            )

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.failures.clear()
            self.idempotent.clear()
            self.media = dict(SAMPLE_MEDIA)
            self.requests = 0

    def sent_to(self, kind: str) -> list[dict]:
        with self.lock:
            return [record for record in self.sent if record["kind"] == kind]

    def add_media(self, content: bytes, content_type: str, filename: str = "") -> str:
        media_id = f"media-{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.media[media_id] = (content, content_type, filename)
        return media_id

    # --- the HTTP side ----------------------------------------------------------------------------
    def handle(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        base_url: str,
    ) -> Response:
        with self.lock:
            self.requests += 1
        headers = {k.lower(): v for k, v in headers.items()}
        path = "/" + path.strip("/")
        if path == "/" and method == "GET":
            return Response(200, self.page().encode(), "text/html; charset=utf-8")
        if path == "/sent" and method == "GET":
            with self.lock:
                return Response.json({"sent": list(self.sent)})
        if path == "/_reset" and method == "POST":
            self.reset()
            return Response.json({"ok": True})
        if path == "/_fail" and method == "POST":
            data = json.loads(body or b"{}")
            self.fail_next(
                status=int(data.get("status", 503)),
                times=int(data.get("times", 1)),
                kind=data.get("kind", ""),
                message=data.get("message", ""),
            )
            return Response.json({"ok": True})
        if path == "/_media" and method == "POST":
            media_id = self.add_media(
                body,
                headers.get("content-type", "application/octet-stream"),
                parse_qs(query).get("filename", [""])[0],
            )
            return Response.json({"id": media_id})
        kind = path.split("/")[1]
        download = re.fullmatch(r"/(whatsapp|messenger|sms)/media/([\w.-]+)/download", path)
        if download and method == "GET":
            return self._download(download.group(2))
        failure = self._take_failure(kind)
        if failure is not None:
            return self._error(kind, failure.status, failure.message)
        if kind == "whatsapp":
            return self._whatsapp(method, path, headers, body, base_url)
        if kind == "messenger":
            return self._messenger(method, path, headers, body)
        if kind == "sms":
            return self._twilio(method, path, headers, body)
        if kind == "email" and path == "/email/messages.mime" and method == "POST":
            return self._mail(path, headers, body)
        return Response.json({"error": {"message": f"unknown path {path}"}}, 404)

    def _mail(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        from channels_app.sandbox.mail import sent_mail

        if not headers.get("authorization", "").startswith("Basic "):
            return Response.json({"message": "Forbidden"}, 401)
        recorded = sent_mail(body)
        if recorded is None:
            return Response.json({"message": "'message' parameter is missing"}, 400)
        payload, answer = recorded
        self._record("email", path, payload, headers, answer)
        return Response.json(answer)

    def _take_failure(self, kind: str) -> Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.remaining > 0 and failure.kind in ("", kind):
                    failure.remaining -= 1
                    self.failures = [f for f in self.failures if f.remaining > 0]
                    return failure
        return None

    def _error(self, kind: str, status: int, message: str = "") -> Response:
        if kind == "sms":
            code = 20500 if status >= 500 else 21211
            text = message or (
                "Internal Server Error"
                if status >= 500
                else "The 'To' number is not a valid phone number."
            )
            return Response.json({"code": code, "message": text, "status": status}, status)
        text = message or (
            "Service temporarily unavailable" if status >= 500 else "Invalid parameter"
        )
        code = 2 if status >= 500 else 100
        return Response.json(
            {
                "error": {
                    "message": text,
                    "type": "OAuthException",
                    "code": code,
                    "fbtrace_id": uuid.uuid4().hex[:12],
                }
            },
            status,
        )

    def _record(
        self, kind: str, path: str, payload: Any, headers: dict[str, str], answer: dict
    ) -> dict:
        record = {
            "n": next(self.counter),
            "kind": kind,
            "path": path,
            "payload": payload,
            "idempotency_key": headers.get("idempotency-key")
            or headers.get("i-twilio-idempotency-token", ""),
            "answer": answer,
        }
        with self.lock:
            self.sent.append(record)
        return record

    def _replayed(self, headers: dict[str, str]) -> dict | None:
        key = headers.get("idempotency-key") or headers.get("i-twilio-idempotency-token")
        with self.lock:
            return self.idempotent.get(key) if key else None

    def _remember(self, headers: dict[str, str], answer: dict) -> None:
        key = headers.get("idempotency-key") or headers.get("i-twilio-idempotency-token")
        if key:
            with self.lock:
                self.idempotent[key] = answer

    def _bearer(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("authorization", "").startswith("Bearer ")
            and len(headers["authorization"]) > 7
        )

    def _whatsapp(
        self, method: str, path: str, headers: dict[str, str], body: bytes, base_url: str
    ) -> Response:
        if not self._bearer(headers):
            return Response.json(
                {"error": {"message": "Invalid OAuth access token.", "code": 190}}, 401
            )
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2:
            media_id = parts[1]
            if media_id not in self.media:
                return Response.json(
                    {"error": {"message": "Unsupported get request.", "code": 100}}, 400
                )
            content, content_type, _ = self.media[media_id]
            return Response.json(
                {
                    "messaging_product": "whatsapp",
                    "id": media_id,
                    "mime_type": content_type,
                    "file_size": len(content),
                    "url": f"{base_url}/whatsapp/media/{media_id}/download",
                }
            )
        if method != "POST" or len(parts) != 3 or parts[2] != "messages":
            return Response.json({"error": {"message": f"unknown path {path}", "code": 100}}, 404)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response.json({"error": {"message": "body must be JSON", "code": 100}}, 400)
        if payload.get("status") == "read":
            self._record("whatsapp", path, payload, headers, {"success": True})
            return Response.json({"success": True})
        if payload.get("type") == "template":
            name = (payload.get("template") or {}).get("name")
            if name not in APPROVED_TEMPLATES:
                return Response.json(
                    {
                        "error": {
                            "message": "(#132001) Template name does not exist in the translation",
                            "code": 132001,
                            "error_data": {"details": f"template name ({name}) does not exist"},
                        }
                    },
                    404,
                )
        elif payload.get("type") == "text" and not (payload.get("text") or {}).get("body"):
            return Response.json(
                {"error": {"message": "(#100) Param text['body'] is required", "code": 100}}, 400
            )
        previous = self._replayed(headers)
        if previous is not None:
            return Response.json(previous)
        to = str(payload.get("to", ""))
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": f"wamid.FAKE{uuid.uuid4().hex.upper()}"}],
        }
        self._remember(headers, answer)
        self._record("whatsapp", path, payload, headers, answer)
        return Response.json(answer)

    def _messenger(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if not self._bearer(headers):
            return Response.json(
                {"error": {"message": "Invalid OAuth access token.", "code": 190}}, 401
            )
        if method != "POST" or not path.endswith("/messages"):
            return Response.json({"error": {"message": f"unknown path {path}", "code": 100}}, 404)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response.json({"error": {"message": "body must be JSON", "code": 100}}, 400)
        recipient = (payload.get("recipient") or {}).get("id")
        if not recipient:
            return Response.json(
                {"error": {"message": "(#100) The parameter recipient is required", "code": 100}},
                400,
            )
        if payload.get("sender_action"):
            self._record("messenger", path, payload, headers, {"recipient_id": recipient})
            return Response.json({"recipient_id": recipient})
        previous = self._replayed(headers)
        if previous is not None:
            return Response.json(previous)
        answer = {"recipient_id": recipient, "message_id": f"m_FAKE{uuid.uuid4().hex}"}
        self._remember(headers, answer)
        self._record("messenger", path, payload, headers, answer)
        return Response.json(answer)

    def _twilio(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        match = re.fullmatch(r"/sms/2010-04-01/Accounts/(\w+)/Messages\.json", path)
        if method != "POST" or not match:
            return Response.json(
                {"code": 20404, "message": "The requested resource was not found", "status": 404},
                404,
            )
        auth = headers.get("authorization", "")
        try:
            user = (
                base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)[0]
                if auth
                else ""
            )
        except ValueError:
            user = ""
        if user != match.group(1):
            return Response.json({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if not re.fullmatch(r"\+[1-9]\d{6,14}", form.get("To", "")):
            return Response.json(
                {
                    "code": 21211,
                    "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                    "status": 400,
                },
                400,
            )
        previous = self._replayed(headers)
        if previous is not None:
            return Response.json(previous, 201)
        answer = {
            "sid": f"SM{uuid.uuid4().hex}",
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body", ""),
            "account_sid": match.group(1),
        }
        self._remember(headers, answer)
        self._record("sms", path, form, headers, answer)
        return Response.json(answer, 201)

    def _download(self, media_id: str) -> Response:
        if media_id not in self.media:
            return Response.json({"error": {"message": "media not found"}}, 404)
        content, content_type, _ = self.media[media_id]
        return Response(200, content, content_type)

    def page(self) -> str:
        with self.lock:
            rows = "".join(
                f"<tr><td>{r['n']}</td><td>{html.escape(r['kind'])}</td><td>{html.escape(r['path'])}</td>"
                f"<td><pre>{html.escape(json.dumps(r['payload'], indent=1, ensure_ascii=False))}</pre></td></tr>"
                for r in reversed(self.sent)
            )
        return (
            "<!doctype html><meta charset=utf-8><title>Fake provider: sent</title>"
            "<meta http-equiv=refresh content=3>"
            "<style>body{font-family:sans-serif}td{border-top:1px solid #ccc;vertical-align:top;padding:4px}</style>"
            "<h1>What we sent to the fake providers</h1><p>Newest first; JSON at <a href=sent>sent</a>.</p>"
            f"<table><tr><th>#</th><th>provider</th><th>path</th><th>payload</th></tr>{rows}</table>"
        )


# The instance the views mounted in the Django app use.
SHARED = FakeProvider()


class _Handler(BaseHTTPRequestHandler):
    provider: FakeProvider

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        host = (
            self.headers.get("Host")
            or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        )
        response = self.provider.handle(
            method=self.command,
            path=url.path,
            query=url.query,
            headers=dict(self.headers.items()),
            body=body,
            base_url=f"http://{host}",
        )
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def make_server(
    provider: FakeProvider, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"provider": provider})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def start_in_thread(
    provider: FakeProvider | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, FakeProvider, str]:
    """Serves a fake provider from a daemon thread; returns the server, its state and its base URL."""
    provider = provider or FakeProvider()
    server = make_server(provider, host, port)
    threading.Thread(target=server.serve_forever, name="fake-provider", daemon=True).start()
    return server, provider, f"http://{host}:{server.server_address[1]}"
