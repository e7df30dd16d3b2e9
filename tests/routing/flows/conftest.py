"""Flow test helpers: a WhatsApp conversation of Acme, authorized nodes, a real local HTTP server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from channels_app.models import ChannelAsset, Conversation, Customer, CustomerIdentity
from routing.flows import services
from routing.flows.models import AuthorizableNode


def flow_doc(
    nodes: dict,
    *,
    kind: str = "inbound_message",
    variables: list | None = None,
    name: str = "Test flow",
) -> dict:
    return {
        "schema_version": 1,
        "name": name,
        "kind": kind,
        "start": "start",
        "variables": variables or [],
        "nodes": {"start": {"type": "start", "trigger": kind, "next": next(iter(nodes))}, **nodes},
    }


@pytest.fixture
def authorized(tenant, owner):
    for node in AuthorizableNode.values:
        services.node_authorization_authorize(tenant=tenant, node=node, user=owner)
    return tenant


@pytest.fixture
def asset(tenant):
    return ChannelAsset.objects.create(
        tenant=tenant, kind="whatsapp", name="Acme WhatsApp", wa_phone_number_id="1000001"
    )


def open_conversation(
    asset, address: str = "4915100000001", name: str = "Dana Customer"
) -> Conversation:
    customer = Customer.objects.create(tenant=asset.tenant, display_name=name)
    identity = CustomerIdentity.objects.create(
        tenant=asset.tenant, customer=customer, kind=asset.kind, address=address
    )
    now = timezone.now()
    return Conversation.objects.create(
        tenant=asset.tenant,
        asset=asset,
        customer=customer,
        identity=identity,
        kind=asset.kind,
        last_inbound_at=now,
        last_message_at=now,
    )


@pytest.fixture
def conversation(asset):
    return open_conversation(asset)


@pytest.fixture
def queues(tenant):
    from routing.models import Queue

    support = Queue.objects.create(tenant=tenant, name="Support", channel_type="social")
    fallback = Queue.objects.create(
        tenant=tenant, name="Default", channel_type="social", default=True
    )
    return {"Support": support, "Default": fallback}


@pytest.fixture
def publish(authorized):
    """Imports a flow document for Acme and returns its published version."""

    def make(document: dict, name: str | None = None):
        return services.flow_import(tenant=authorized, document=document, name=name)

    return make


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": json.loads(body) if body else None,
            }
        )
        status, payload, delay = self.server.routes.get(
            self.path.split("?")[0], (404, {"error": "no route"}, 0)
        )
        if delay:
            time.sleep(delay)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


@pytest.fixture
def http_server(settings):
    """A real HTTP server on localhost: server.routes[path] = (status, json, delay_seconds).
    Flows may call it: the operator allows its host."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes = {}
    server.requests = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def whatsapp_wired(
    *, tenant, http_server, phone_number_id: str, sent_id: str = "wamid.OUT", **fields
) -> ChannelAsset:
    """A WhatsApp asset whose provider API is the local HTTP server (a send answers sent_id) and
    whose entry point runs the shipped inbound flow."""
    from routing.models import EntryPoint

    http_server.routes[f"/{phone_number_id}/messages"] = (200, {"messages": [{"id": sent_id}]}, 0)
    asset = ChannelAsset.objects.create(
        tenant=tenant,
        kind="whatsapp",
        name=fields.pop("name", "Demo WhatsApp"),
        wa_phone_number_id=phone_number_id,
        api_base_url=http_server.url,
        access_token="token",
        **fields,
    )
    EntryPoint.objects.create(
        tenant=tenant,
        name="WhatsApp in",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=asset,
        flow=services.flow_import_template(tenant=tenant, template_name="whatsapp_inbound"),
    )
    return asset
