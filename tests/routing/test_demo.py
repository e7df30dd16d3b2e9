"""The demo tenant: a customer's first message runs the shipped flow end to end into a queue."""

import pytest
from django.core.management import call_command
from django.test import Client

from channels_app.models import ChannelAsset, Conversation
from channels_app.sandbox.customer import customer_webhook
from routing.flows.models import FlowRun
from routing.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "sms", "apple"])
def test_a_demo_customer_message_runs_the_shipped_flow_into_the_support_queue(kind, settings):
    settings.SANDBOX_PROVIDER = True
    call_command("demo_seed", stdout=open("/dev/null", "w"))
    call_command("demo_seed", stdout=open("/dev/null", "w"))  # idempotent
    asset = ChannelAsset.objects.get(tenant__slug="demo", kind=kind)
    signed = customer_webhook(
        asset, base_url="http://testserver", sender="+4915112345678", text="Hallo"
    )

    response = Client().post(
        signed.url.removeprefix("http://testserver"),
        data=signed.body,
        content_type=signed.headers["Content-Type"],
        **{
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in signed.headers.items()
            if k != "Content-Type"
        },
    )

    assert response.status_code == 200
    conversation = Conversation.objects.get(asset=asset, status="open")  # not the closed history
    run = FlowRun.objects.get(conversation=conversation)
    assert run.flow.template_name == f"{kind}_inbound"
    assert run.status == "completed", run.error
    task = Task.objects.get(conversation=conversation)
    assert task.queue.name == "Support"
