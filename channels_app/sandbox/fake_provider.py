"""A fake of the three providers' APIs we call: WhatsApp Cloud API, Messenger Send API, Twilio.

It answers like the provider, records what was sent (GET /sent as JSON, GET / as a page), serves
sample media for inbound attachments, and can be told to fail (5xx n times, or a 4xx) for tests.
Paths start with the provider's kind, so an asset's api_base_url is <server>/<kind>:
  /whatsapp/<phone-number-id>/messages    POST send (text, template, media by id) or mark read
  /whatsapp/<phone-number-id>/media       POST media upload (multipart: file, type, messaging_product)
  /whatsapp/<waba-id>/message_templates   GET the account's templates (paged: limit, after)
  /whatsapp/<media-id>                    GET media info, then /whatsapp/media/<id>/download
  /messenger/<page-id>/messages           POST send (text, attachment by id) or sender action
  /messenger/me/message_attachments       POST attachment upload (multipart: message, filedata)
  /sms/2010-04-01/Accounts/<sid>/Messages.json   POST send (Twilio form; MediaUrl fetched after)
  /email/messages.mime                    POST send (raw MIME, see sandbox/mail.py)
  /apple/v1/message                       POST send (Apple's JSON; source-id, destination-id, id)
  /apple/v1/preDownload                   GET the download URL of an encrypted attachment
  /apple/v1/preUpload                     GET where to upload an encrypted file (MMCS-Size header)
  /apple/mmcs/<id>                        GET an attachment's encrypted bytes, POST to upload them
  /<kind>/media/<id>/download             GET media bytes
  /sent  /  POST /_fail  POST /_reset  POST /_media (upload bytes, returns an id)

The same FakeProvider serves both the standalone server (serve / start_in_thread) and the views
mounted at /sandbox/provider/ in the demo.
"""

import base64
import hashlib
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


def _template(name: str, language: str, category: str, body: str, status: str = "APPROVED") -> dict:
    return {
        "name": name,
        "language": language,
        "status": status,
        "category": category,
        "id": str(int(hashlib.sha256(f"{name}/{language}".encode()).hexdigest()[:12], 16)),
        "components": [{"type": "BODY", "text": body}],
    }


# The business account's message templates, as GET /{WABA-ID}/message_templates lists them.
TEMPLATES: list[dict] = [
    _template("hello_world", "en_US", "UTILITY", "Hello World! Thank you for contacting us."),
    _template(
        "order_update",
        "en_US",
        "UTILITY",
        "Hi {{1}}, your order {{2}} has shipped and arrives on {{3}}.",
    ),
    _template(
        "order_update",
        "de_DE",
        "UTILITY",
        "Hallo {{1}}, Ihre Bestellung {{2}} ist unterwegs und kommt am {{3}} an.",
    ),
    _template(
        "reengage_customer",
        "en_US",
        "MARKETING",
        "Hi {{1}}, we replied to your question. Answer this message to continue the conversation.",
    ),
    _template(
        "reengage_customer",
        "de",
        "MARKETING",
        "Hallo {{1}}, wir haben Ihre Frage beantwortet. Antworten Sie, um weiterzuschreiben.",
    ),
    _template(
        "spring_sale", "en_US", "MARKETING", "Our spring sale starts {{1}}!", status="REJECTED"
    ),
]
APPROVED_TEMPLATES = {t["name"] for t in TEMPLATES if t["status"] == "APPROVED"}
# What the WhatsApp send API accepts as a media message type.
WHATSAPP_MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
MESSENGER_ATTACHMENT_TYPES = ("image", "video", "audio", "file")


def parse_multipart(content_type: str, body: bytes) -> dict[str, dict]:
    """Fields of a multipart/form-data body: name -> {"value", "filename", "content_type"}.
    Split on the boundary by hand: the email parser costs ~30 ms a megabyte."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not content_type.lower().startswith("multipart/form-data") or boundary is None:
        raise ValueError("expected multipart/form-data with a boundary")
    delimiter = b"--" + boundary.group(1).encode()
    fields: dict[str, dict] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, separator, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a part without headers")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, text = line.partition(":")
            headers[key.strip().lower()] = text.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        if name is None:
            continue
        filename = re.search(r'filename="([^"]*)"', disposition)
        fields[name.group(1)] = {
            "value": value.removesuffix(b"\r\n"),
            "filename": filename.group(1) if filename else "",
            "content_type": headers.get("content-type", ""),
        }
    if not fields:
        raise ValueError("no fields in the multipart body")
    return fields


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
    # Files uploaded to us (WhatsApp media, Messenger attachments, what Twilio fetched by MediaUrl).
    uploads: list[dict] = field(default_factory=list)
    templates: list[dict] = field(default_factory=lambda: [dict(t) for t in TEMPLATES])
    failures: list[Failure] = field(default_factory=list)
    idempotent: dict[str, dict] = field(default_factory=dict)
    requests: int = 0
    # One-shot answers by path, whatever the request: for provider answers that make no sense.
    canned: dict[str, list[Response]] = field(default_factory=dict)
    # Apple: upload slots handed out by preUpload, by MMCS id (size, owner, the bytes once uploaded).
    apple_slots: dict[str, dict] = field(default_factory=dict)

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

    def answer_next(self, *, path: str, status: int = 200, body: bytes = b"") -> None:
        """The next request to this path gets this answer, as it is."""
        with self.lock:
            self.canned.setdefault(path, []).append(Response(status, body))

    def reset(self) -> None:
        with self.lock:
            self.canned.clear()
            self.apple_slots.clear()
            self.sent.clear()
            self.uploads.clear()
            self.templates = [dict(t) for t in TEMPLATES]
            self.failures.clear()
            self.idempotent.clear()
            self.media = dict(SAMPLE_MEDIA)
            self.requests = 0

    def sent_to(self, kind: str) -> list[dict]:
        with self.lock:
            return [record for record in self.sent if record["kind"] == kind]

    def uploads_to(self, kind: str) -> list[dict]:
        with self.lock:
            return [upload for upload in self.uploads if upload["kind"] == kind]

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
                uploads = [
                    {k: v for k, v in upload.items() if k != "content"} for upload in self.uploads
                ]
                return Response.json({"sent": list(self.sent), "uploads": uploads})
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
        with self.lock:
            canned = self.canned.get(path)
            if canned:
                answer = canned.pop(0)
                if not canned:
                    del self.canned[path]
                return answer
        kind = path.split("/")[1]
        download = re.fullmatch(r"/(whatsapp|messenger|sms)/media/([\w.-]+)/download", path)
        if download and method == "GET":
            return self._download(download.group(2))
        failure = self._take_failure(kind)
        if failure is not None:
            return self._error(kind, failure.status, failure.message)
        if kind == "whatsapp":
            return self._whatsapp(method, path, query, headers, body, base_url)
        if kind == "messenger":
            return self._messenger(method, path, headers, body)
        if kind == "sms":
            return self._twilio(method, path, headers, body)
        if kind == "apple":
            return self._apple(method, path, headers, body, base_url)
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
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        base_url: str,
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
        if method == "GET" and len(parts) == 3 and parts[2] == "message_templates":
            return self._whatsapp_templates(query)
        if method == "POST" and len(parts) == 3 and parts[2] == "media":
            return self._whatsapp_upload(path, headers, body)
        if method != "POST" or len(parts) != 3 or parts[2] != "messages":
            return Response.json({"error": {"message": f"unknown path {path}", "code": 100}}, 404)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response.json({"error": {"message": "body must be JSON", "code": 100}}, 400)
        if payload.get("status") == "read":
            self._record("whatsapp", path, payload, headers, {"success": True})
            return Response.json({"success": True})
        kind = payload.get("type")
        if kind == "template":
            refusal = self._template_refusal(payload.get("template") or {})
            if refusal is not None:
                return refusal
        elif kind in WHATSAPP_MEDIA_TYPES:
            media = payload.get(kind) or {}
            if not media.get("id") and not media.get("link"):
                return self._graph_error(
                    f"(#100) Param {kind}['id'] or {kind}['link'] is required", 100, 400
                )
            if media.get("id") and media["id"] not in self.media:
                return self._graph_error(
                    "(#131053) Media upload error",
                    131053,
                    400,
                    details=f"media id {media['id']} is unknown",
                )
        elif kind == "text" and not (payload.get("text") or {}).get("body"):
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

    @staticmethod
    def _graph_error(message: str, code: int, status: int, *, details: str = "") -> Response:
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if details:
            error["error_data"] = {"details": details}
        return Response.json({"error": error}, status)

    def _template_refusal(self, template: dict) -> Response | None:
        """What Cloud API answers for an unknown template or the wrong number of parameters."""
        name = template.get("name")
        language = (template.get("language") or {}).get("code", "")
        with self.lock:
            known = [
                t
                for t in self.templates
                if t["name"] == name and t["language"] == language and t["status"] == "APPROVED"
            ]
        if not known:
            return self._graph_error(
                "(#132001) Template name does not exist in the translation",
                132001,
                404,
                details=f"template name ({name}) does not exist in {language}",
            )
        body = next((c for c in known[0]["components"] if c["type"] == "BODY"), {"text": ""})
        expected = len(set(re.findall(r"\{\{(\d+)\}\}", body["text"])))
        given = [
            p
            for c in template.get("components") or []
            if str(c.get("type", "")).lower() == "body"
            for p in c.get("parameters") or []
        ]
        if len(given) != expected or any(
            p.get("type") != "text" or not str(p.get("text", "")).strip() for p in given
        ):
            return self._graph_error(
                "(#132000) Number of parameters does not match the expected number of params",
                132000,
                400,
                details=f"body: number of localizable_params ({len(given)}) does not match "
                f"the expected number of params ({expected})",
            )
        return None

    def _whatsapp_templates(self, query: str) -> Response:
        args = parse_qs(query)
        try:
            limit = max(1, min(100, int(args.get("limit", ["25"])[0])))
            start = int(args.get("after", ["0"])[0] or 0)
        except ValueError:
            return self._graph_error("(#100) Invalid parameter", 100, 400)
        with self.lock:
            templates = list(self.templates)
        page = templates[start : start + limit]
        answer: dict[str, Any] = {
            "data": page,
            "paging": {"cursors": {"before": str(start), "after": str(start + len(page))}},
        }
        if start + len(page) < len(templates):
            answer["paging"]["next"] = f"?limit={limit}&after={start + len(page)}"
        return Response.json(answer)

    def _store_upload(
        self, kind: str, path: str, content: bytes, content_type: str, filename: str, **extra
    ) -> str:
        media_id = (
            f"{uuid.uuid4().int % 10**16:016d}" if kind == "whatsapp" else uuid.uuid4().hex[:16]
        )
        with self.lock:
            self.media[media_id] = (content, content_type, filename)
            self.uploads.append(
                {
                    "kind": kind,
                    "path": path,
                    "id": media_id,
                    "content_type": content_type,
                    "filename": filename,
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "content": content,
                    **extra,
                }
            )
        return media_id

    def _whatsapp_upload(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        try:
            fields = parse_multipart(headers.get("content-type", ""), body)
        except ValueError as exc:
            return self._graph_error(f"(#100) {exc}", 100, 400)
        if fields.get("messaging_product", {}).get("value") != b"whatsapp":
            return self._graph_error(
                "(#100) The parameter messaging_product is required.", 100, 400
            )
        upload = fields.get("file")
        if upload is None or not upload["value"]:
            return self._graph_error("(#100) The parameter file is required.", 100, 400)
        declared = fields.get("type", {}).get("value", b"").decode() or upload["content_type"]
        if not declared:
            return self._graph_error("(#100) The parameter type is required.", 100, 400)
        media_id = self._store_upload(
            "whatsapp", path, upload["value"], declared, upload["filename"]
        )
        return Response.json({"id": media_id})

    def _messenger(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if not self._bearer(headers):
            return Response.json(
                {"error": {"message": "Invalid OAuth access token.", "code": 190}}, 401
            )
        if method == "POST" and path.endswith("/message_attachments"):
            return self._messenger_upload(path, headers, body)
        if method != "POST" or not path.endswith("/messages"):
            return Response.json({"error": {"message": f"unknown path {path}", "code": 100}}, 404)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response.json({"error": {"message": "body must be JSON", "code": 100}}, 400)
        attachment = (payload.get("message") or {}).get("attachment")
        if attachment is not None:
            ref = (attachment.get("payload") or {}).get("attachment_id")
            url = (attachment.get("payload") or {}).get("url")
            if attachment.get("type") not in MESSENGER_ATTACHMENT_TYPES or not (ref or url):
                return self._graph_error(
                    "(#100) Param message[attachment] needs a type and an attachment_id or url",
                    100,
                    400,
                )
            if ref and ref not in self.media:
                return self._graph_error(
                    "(#100) Attachment id is not valid", 100, 400, details=f"unknown id {ref}"
                )
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

    def _messenger_upload(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        try:
            fields = parse_multipart(headers.get("content-type", ""), body)
            message = json.loads(fields["message"]["value"])
            kind = message["attachment"]["type"]
        except (ValueError, KeyError, TypeError):
            return self._graph_error(
                "(#100) Param message must be JSON with attachment.type", 100, 400
            )
        upload = fields.get("filedata")
        if kind not in MESSENGER_ATTACHMENT_TYPES:
            return self._graph_error(f"(#100) Unsupported attachment type {kind}", 100, 400)
        if upload is None or not upload["value"]:
            return self._graph_error("(#100) Upload attachment failure: no filedata", 100, 400)
        attachment_id = self._store_upload(
            "messenger",
            path,
            upload["value"],
            upload["content_type"] or "application/octet-stream",
            upload["filename"],
            attachment_type=kind,
        )
        return Response.json({"attachment_id": attachment_id})

    def _fetch_media_url(self, url: str, record: dict) -> None:
        """What Twilio does with a MediaUrl after accepting the message: fetch it, unauthenticated.
        Through the project's outbound guard: the demo mounts this fake on a public server, and a
        MediaUrl is whatever the caller wrote."""
        from config.outbound import OutboundError, fetch

        try:
            response = fetch("GET", url, max_bytes=5 * 1024 * 1024, timeout=10)
            outcome = {"url": url, "status": response.status_code, "size": len(response.content)}
            if response.status_code == 200:
                self._store_upload(
                    "sms",
                    record["path"],
                    response.content,
                    response.headers.get("content-type", ""),
                    "",
                    url=url,
                )
        except OutboundError as exc:
            outcome = {"url": url, "status": None, "error": exc.reason}
        except Exception as exc:  # noqa: BLE001  (a fake: record, never crash the thread)
            outcome = {"url": url, "status": None, "error": f"{type(exc).__name__}: {exc}"}
        with self.lock:
            record.setdefault("media_fetched", []).append(outcome)

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
        fields = parse_qs(body.decode(), keep_blank_values=True)
        form = {k: v[-1] for k, v in fields.items()}
        media_urls = fields.get("MediaUrl", [])
        if not re.fullmatch(r"\+[1-9]\d{6,14}", form.get("To", "")):
            return Response.json(
                {
                    "code": 21211,
                    "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                    "status": 400,
                },
                400,
            )
        if not form.get("Body") and not media_urls:
            return Response.json(
                {"code": 21602, "message": "Message body is required.", "status": 400}, 400
            )
        if any(not re.match(r"https?://", url) for url in media_urls) or len(media_urls) > 10:
            return Response.json(
                {"code": 21620, "message": "Invalid media URL(s)", "status": 400}, 400
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
            "num_media": str(len(media_urls)),
        }
        self._remember(headers, answer)
        if media_urls:
            form["MediaUrl"] = media_urls
        record = self._record("sms", path, form, headers, answer)
        for url in media_urls:
            threading.Thread(target=self._fetch_media_url, args=(url, record), daemon=True).start()
        return Response.json(answer, 201)

    # --- Apple Messages for Business ----------------------------------------------------------
    def apple_attachment(self, media_id: str, base_url: str) -> dict:
        """An attachment as Apple describes it inbound: the bytes are served encrypted with a
        fresh key, which the description carries (hex, leading 00, as Apple sends it)."""
        from channels_app.providers.apple.transport import encrypt

        content, content_type, filename = self.media[media_id]
        key = "00" + uuid.uuid4().hex + uuid.uuid4().hex
        stored_id = f"mmcs-{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.media[stored_id] = (encrypt(content, key), "application/octet-stream", filename)
        return {
            "name": filename or "file",
            "mimeType": content_type,
            "size": len(content),
            "url": f"{base_url}/apple/mmcs/{stored_id}",
            "owner": "fake-owner",
            "signature-base64": base64.b64encode(hashlib.sha1(content).digest()).decode(),
            "key": key,
        }

    def _apple(
        self, method: str, path: str, headers: dict[str, str], body: bytes, base_url: str
    ) -> Response:
        if path == "/apple/_attachment" and method == "POST":
            # The sandbox customer's file: described as Apple would, encrypted for download.
            media_id = json.loads(body or b"{}").get("media", "")
            if media_id not in self.media:
                return Response(404, b"no such media", "text/plain")
            return Response.json(self.apple_attachment(media_id, base_url))
        # Download and upload URLs are pre-signed storage links: they take no Authorization.
        if path.startswith("/apple/mmcs/") and method == "GET":
            return self._download(path.rsplit("/", 1)[1])
        if path.startswith("/apple/mmcs/") and method == "POST":
            return self._apple_upload(path.rsplit("/", 1)[1], body)
        if not self._bearer(headers) or headers["authorization"].count(".") != 2:
            return Response(401, b"", "text/plain")
        if path == "/apple/v1/preDownload" and method == "GET":
            url = headers.get("mmcs-url", "")
            if not url.startswith(f"{base_url}/apple/mmcs/") or not headers.get("mmcs-signature"):
                return Response(
                    400, b"MMCS-Url and MMCS-Signature headers are required", "text/plain"
                )
            return Response.json({"download-url": url})
        if path == "/apple/v1/preUpload" and method == "GET":
            return self._apple_pre_upload(headers, base_url)
        if path != "/apple/v1/message" or method != "POST":
            return Response(404, f"unknown path {path}".encode(), "text/plain")
        for name in ("source-id", "destination-id", "id"):
            if not headers.get(name):
                return Response(400, f"missing header {name}".encode(), "text/plain")
        try:
            payload = json.loads(
                zlib.decompress(body, 16 + zlib.MAX_WBITS) if body[:2] == b"\x1f\x8b" else body
            )
        except ValueError:
            return Response(400, b"body is not JSON", "text/plain")
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "text" and not payload.get("body"):
            return Response(400, b"a text message needs a body", "text/plain")
        if kind == "interactive" and not (payload.get("interactiveData") or {}).get("data"):
            return Response(400, b"interactiveData.data is required", "text/plain")
        if kind not in ("text", "interactive", "richLink", "typing_start", "typing_end"):
            return Response(400, f"unknown message type {kind!r}".encode(), "text/plain")
        received, refusal = self._apple_received_files(payload.get("attachments") or [], base_url)
        if refusal:
            return Response(400, refusal.encode(), "text/plain")
        answer = {"id": headers["id"]}
        record = self._record("apple", path, payload, headers, answer)
        record["idempotency_key"] = headers["id"]
        record["destination_id"] = headers["destination-id"]
        for upload in received:
            self._store_upload("apple", path, message_id=headers["id"], **upload)
        return Response(200, b"", "text/plain")

    def _apple_pre_upload(self, headers: dict[str, str], base_url: str) -> Response:
        try:
            size = int(headers.get("mmcs-size", ""))
        except ValueError:
            return Response(400, b"the MMCS-Size header is required", "text/plain")
        if size <= 0 or not headers.get("source-id"):
            return Response(400, b"MMCS-Size and source-id are required", "text/plain")
        mmcs_id = f"mmcs-{uuid.uuid4().hex[:12]}"
        owner = f"owner-{uuid.uuid4().hex[:16]}"
        with self.lock:
            self.apple_slots[mmcs_id] = {"size": size, "owner": owner, "content": None}
        return Response.json(
            {
                "upload-url": f"{base_url}/apple/mmcs/{mmcs_id}",
                "mmcs-url": f"{base_url}/apple/mmcs/{mmcs_id}",
                "mmcs-owner": owner,
            }
        )

    def _apple_upload(self, mmcs_id: str, body: bytes) -> Response:
        with self.lock:
            slot = self.apple_slots.get(mmcs_id)
            if slot is None or slot["content"] is not None:
                return Response(404, b"no such upload slot", "text/plain")
            if len(body) != slot["size"]:
                return Response(
                    400, f"expected {slot['size']} bytes, got {len(body)}".encode(), "text/plain"
                )
            slot["content"] = body
            self.media[mmcs_id] = (body, "application/octet-stream", "")
        checksum = base64.b64encode(hashlib.sha1(body).digest()).decode()
        return Response.json(
            {"singleFile": {"fileChecksum": checksum, "fileSize": len(body), "receipt": mmcs_id}}
        )

    def _apple_received_files(self, attachments: Any, base_url: str) -> tuple[list[dict], str]:
        """What a device would do with the message's files: fetch each upload, check its owner,
        size and signature, decrypt it with the key. Answers the plain files, or why not."""
        from channels_app.providers.apple.transport import decrypt
        from channels_app.providers.base import PermanentSendError

        if not isinstance(attachments, list):
            return [], "attachments must be a list"
        received = []
        for index, attachment in enumerate(attachments):
            where = f"attachment {index + 1}"
            if not isinstance(attachment, dict):
                return [], f"{where} must be an object"
            missing = [
                name
                for name in ("name", "mimeType", "size", "signature-base64", "url", "owner", "key")
                if attachment.get(name) in (None, "")
            ]
            if missing:
                return [], f"{where} lacks {', '.join(missing)}"
            prefix = f"{base_url}/apple/mmcs/"
            mmcs_id = str(attachment["url"])[len(prefix) :]
            with self.lock:
                slot = self.apple_slots.get(mmcs_id)
            if not str(attachment["url"]).startswith(prefix) or slot is None:
                return [], f"{where}: no such upload"
            if slot["content"] is None:
                return [], f"{where}: nothing was uploaded"
            content = slot["content"]
            if attachment["owner"] != slot["owner"]:
                return [], f"{where}: wrong owner"
            if int(attachment["size"]) != len(content):
                return [], f"{where}: size {attachment['size']} is not {len(content)}"
            if (
                attachment["signature-base64"]
                != base64.b64encode(hashlib.sha1(content).digest()).decode()
            ):
                return [], f"{where}: signature does not match the upload"
            try:
                plain = decrypt(content, str(attachment["key"]))
            except PermanentSendError as exc:
                return [], f"{where}: {exc.reason}"
            received.append(
                {
                    "content": plain,
                    "content_type": str(attachment["mimeType"]),
                    "filename": str(attachment["name"]),
                }
            )
        return received, ""

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
