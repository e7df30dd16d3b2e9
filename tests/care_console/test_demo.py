"""The demo's supervisor finds the care console populated."""

import pytest
from django.core.management import call_command
from django.test import Client

from tenants.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_supervisor_sees_the_demo_agents_queues_and_a_week_of_conversations():
    call_command("demo_seed", stdout=open("/dev/null", "w"))
    call_command("demo_seed", stdout=open("/dev/null", "w"))  # idempotent
    client = Client()
    client.force_login(User.objects.get(email="supervisor@demo.test"))

    live = client.get("/care/live/state/").json()
    assert {a["name"] for a in live["agents"]} == {"Alex Agent", "Billie Agent"}
    assert {q["name"] for q in live["queues"]} >= {"Support", "Chat"}
    page = client.get("/care/transcripts/", {"status": "closed"})
    assert page.context["page"].paginator.count == 60
    report = client.get("/care/reports/wrap_up_codes.json").json()
    assert sum(row[1] for row in report["rows"]) > 0
