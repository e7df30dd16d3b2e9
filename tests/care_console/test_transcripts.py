"""Transcript search (each filter), the transcript page and its exports."""

import csv
import io
import json

import pytest
from pypdf import PdfReader

from care_console import exports
from channels_app.models import Attachment, Message
from routing.flows.models import Flow, FlowRun, FlowRunStep, FlowVersion
from tests.factories import ChannelAssetFactory


def names(response) -> set[str]:
    assert response.status_code == 200, response.content[:500]
    return {c.customer.display_name for c in response.context["page"]}


@pytest.fixture
def search(center, owner, client_for):
    client = client_for(owner)

    def run(**params):
        return names(client.get("/care/transcripts/", {k: str(v) for k, v in params.items()}))

    return run


def test_full_text_finds_words_in_messages(search):
    assert search(text="refund") == {"Dana Example", "Ida Yesterday", "Zed Sales"}
    assert search(text="parcel") == {"Erik Sample"}
    assert search(text="4711") == {"Dana Example"}
    assert search(text="nothing-like-this") == set()


def test_full_text_with_many_matches_finds_the_same(search, monkeypatch):
    from care_console import selectors

    monkeypatch.setattr(selectors, "FEW_MATCHES", 1)  # the subquery plan for common words
    assert search(text="refund") == {"Dana Example", "Ida Yesterday", "Zed Sales"}


def test_customer_matches_name_or_address(search, center):
    assert search(customer="erik") == {"Erik Sample"}
    address = center.conversations["fay"].identity.address
    assert search(customer=address) == {"Fay Gone"}


def test_channel_and_asset_filters(search, center):
    email = ChannelAssetFactory(tenant=center.tenant, kind="email", name="Mailbox")
    c = center.conversations["gus"]
    c.asset, c.kind = email, "email"
    c.save(update_fields=["asset", "kind"])
    assert search(channel="email") == {"Gus Waiting"}
    assert search(asset=email.pk) == {"Gus Waiting"}


def test_queue_agent_and_team_filters(search, center):
    assert search(queue=center.sales_queue.pk) == {"Zed Sales"}
    assert search(agent=center.ben.pk) == {"Erik Sample", "Ida Yesterday"}
    assert search(team=center.support.pk) == {"Dana Example", "Erik Sample", "Ida Yesterday"}


def test_date_range_status_and_wrap_up_filters(search):
    assert search(date_from="2026-03-09", date_to="2026-03-09") == {"Ida Yesterday"}
    assert search(status="closed") == {"Erik Sample", "Fay Gone", "Ida Yesterday"}
    assert search(wrap_up_code="Resolved") == {"Erik Sample"}


def test_variable_values_match_as_text_or_number(search, center):
    assert search(variable="segment", value="gold") == {"Dana Example", "Erik Sample"}
    assert search(variable="order_total", value="40") == {"Erik Sample"}
    assert search(variable="order_total", value="20") == {"Ida Yesterday"}  # stored as text
    assert search(variable="segment") == {"Dana Example", "Erik Sample", "Ida Yesterday"}


def test_the_supervisor_searches_only_their_teams_and_queues(center, supervisor, client_for):
    found = names(client_for(supervisor).get("/care/transcripts/", {"text": "refund"}))
    assert found == {"Dana Example", "Ida Yesterday"}  # Zed is in the Sales queue


def test_bad_filters_answer_400_with_the_reason(center, owner, client_for):
    client = client_for(owner)
    response = client.get(
        "/care/transcripts/", {"date_from": "2026-03-10", "date_to": "2026-03-01"}
    )
    assert response.status_code == 400
    assert b"The end date is before the start date." in response.content
    response = client.get("/care/transcripts/", {"variable": "a-b"})
    assert response.status_code == 400
    assert response.status_code == client.get("/care/transcripts/", {"value": "x"}).status_code


def test_another_tenants_id_in_a_filter_answers_like_a_missing_one(
    center, outsider, other_tenant, owner, supervisor, client_for
):
    from tests.routing.factories import make_queue, make_team

    foreign = make_queue(tenant=other_tenant, teams=[make_team(tenant=other_tenant)])
    client = client_for(owner)
    theirs = client.get("/care/transcripts/", {"queue": foreign.pk})
    missing = client.get("/care/transcripts/", {"queue": 999999})
    assert theirs.status_code == missing.status_code == 400
    assert theirs.context["form"].errors == missing.context["form"].errors
    # A queue of the same tenant outside carol's scope is refused the same way.
    outside = client_for(supervisor).get("/care/transcripts/", {"queue": center.sales_queue.pk})
    assert outside.status_code == 400


@pytest.fixture
def rich(center):
    """Dana's conversation with an attachment, a flow run with steps."""
    dana = center.conversations["dana"]
    message = Message.objects.filter(conversation=dana).first()
    Attachment.objects.create(
        tenant=center.tenant,
        message=message,
        filename="invoice.pdf",
        declared_content_type="application/pdf",
        scan_status=Attachment.ScanStatus.INFECTED,
    )
    flow = Flow.objects.create(tenant=center.tenant, name="Chat inbound")
    version = FlowVersion.objects.create(
        tenant=center.tenant, flow=flow, number=1, definition={"nodes": []}
    )
    run = FlowRun.objects.create(
        tenant=center.tenant,
        flow=flow,
        flow_version=version,
        conversation=dana,
        trigger="inbound",
        status="finished",
    )
    FlowRunStep.objects.create(
        run=run, seq=1, node_id="greet", node_type="send_message", path="flow"
    )
    FlowRunStep.objects.create(run=run, seq=2, node_id="queue", node_type="queue_task", path="flow")
    return dana


def test_a_transcript_shows_messages_attachments_variables_timeline_and_flow_run(
    rich, supervisor, client_for
):
    response = client_for(supervisor).get(f"/care/conversations/{rich.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "I need a refund for order 4711" in html
    assert "unknown file" in html and "scan: Infected" in html  # never downloadable
    assert "segment" in html and "gold" in html
    for step in ("Queued", "Offered", "Accepted", "waited 30 s"):
        assert step in html
    assert "Chat inbound" in html and "greet (send_message)" in html


def test_transcripts_outside_the_scope_or_the_tenant_are_404(
    center, supervisor, outsider, client_for
):
    zed = center.conversations["zed"]
    assert client_for(supervisor).get(f"/care/conversations/{zed.pk}/").status_code == 404
    dana = center.conversations["dana"]
    for url in (
        f"/care/conversations/{dana.pk}/",
        f"/care/conversations/{dana.pk}/messages/",
        f"/care/conversations/{dana.pk}/export.pdf",
        f"/care/conversations/{dana.pk}/export.json",
    ):
        assert client_for(outsider).get(url).status_code == 404, url


def test_one_transcript_exports_as_a_pdf_that_opens(rich, supervisor, client_for):
    response = client_for(supervisor).get(f"/care/conversations/{rich.pk}/export.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Dana Example" in text and "refund for order 4711" in text
    # The attachment is infected: an unknown file, its name not shown.
    assert "accepted" in text and "unknown file" in text and "invoice.pdf" not in text


def test_one_transcript_exports_as_csv_and_json(rich, supervisor, client_for):
    client = client_for(supervisor)
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/care/conversations/{rich.pk}/export.csv").content.decode())
        )
    )
    assert [r["text"] for r in rows] == ["I need a refund for order 4711"]
    assert rows[0]["attachments"] == "unknown file (infected)"
    data = json.loads(client.get(f"/care/conversations/{rich.pk}/export.json").content)
    assert data[0]["customer"] == "Dana Example"
    assert [e["kind"] for e in data[0]["timeline"]] == ["queued", "offered", "accepted"]
    assert [s["node"] for s in data[0]["flow_runs"][0]["steps"]] == ["greet", "queue"]


def test_a_search_result_exports_with_the_same_filters(center, supervisor, client_for):
    client = client_for(supervisor)
    data = json.loads(client.get("/care/transcripts/export.json", {"text": "refund"}).content)
    assert {c["customer"] for c in data} == {"Dana Example", "Ida Yesterday"}
    pdf = client.get("/care/transcripts/export.pdf", {"text": "refund"})
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 2
    bad = client.get("/care/transcripts/export.csv", {"date_from": "yesterday"})
    assert bad.status_code == 400 and "date_from" in bad.json()["error"]


def test_csv_exports_open_formulas_as_text(center, supervisor, client_for):
    dana = center.conversations["dana"]
    Message.objects.create(
        tenant=center.tenant,
        conversation=dana,
        asset=dana.asset,
        direction="in",
        author_kind="customer",
        text='=HYPERLINK("http://evil.test","click")',
        status="received",
    )
    response = client_for(supervisor).get(f"/care/conversations/{dana.pk}/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[-1]["text"] == '\'=HYPERLINK("http://evil.test","click")'


def test_clean_attachments_download_infected_and_foreign_ones_do_not(
    center, supervisor, outsider, client_for, settings, tmp_path
):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = str(tmp_path)
    message = Message.objects.filter(conversation=center.conversations["dana"]).first()
    clean = Attachment(
        tenant=center.tenant,
        message=message,
        filename="receipt.txt",
        declared_content_type="text/plain",
        scan_status=Attachment.ScanStatus.CLEAN,
    )
    clean.file.save("receipt.txt", ContentFile(b"paid"), save=True)
    infected = Attachment(
        tenant=center.tenant, message=message, filename="x.exe", scan_status="infected"
    )
    infected.file.save("x.exe", ContentFile(b"MZ"), save=True)
    zed_message = Message.objects.filter(conversation=center.conversations["zed"]).first()
    outside = Attachment(tenant=center.tenant, message=zed_message, scan_status="clean")
    outside.file.save("plan.txt", ContentFile(b"plan"), save=True)

    carol = client_for(supervisor)
    response = carol.get(f"/care/attachments/{clean.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"paid"
    assert carol.get(f"/care/attachments/{infected.pk}/").status_code == 404
    assert carol.get(f"/care/attachments/{outside.pk}/").status_code == 404  # Sales queue
    assert client_for(outsider).get(f"/care/attachments/{clean.pk}/").status_code == 404


def test_a_broad_search_stops_counting_past_the_cap(center, owner, client_for, monkeypatch):
    from care_console import selectors

    monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", 2)
    response = client_for(owner).get("/care/transcripts/", {"status": "closed"})
    assert response.status_code == 200
    assert "More than 1,000 conversations" in response.content.decode()
    assert len(response.context["page"]) == 3  # the first page still lists what it finds


def test_the_outsider_finds_and_exports_nothing_of_acme(center, outsider, client_for):
    client = client_for(outsider)
    assert names(client.get("/care/transcripts/", {"text": "refund"})) == set()
    assert json.loads(client.get("/care/transcripts/export.json", {"text": "refund"}).content) == []
    rows = client.get("/care/transcripts/export.csv", {"status": "closed"}).content.decode()
    assert rows.strip().splitlines() == [",".join(exports.CSV_COLUMNS)]
