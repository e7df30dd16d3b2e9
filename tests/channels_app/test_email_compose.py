"""The desktop's email composer on the server (Cc checked, the agent's HTML sanitized, the text
part derived, sent by SMTP in two parts) and remote images shown on request through our own
origin, for that message's images only."""

import pytest
from django.urls import reverse

from channels_app.models import ChannelKind, Direction, Message
from channels_app.services import SendRefused
from channels_app.services.email import email_cc_clean, email_html_clean
from tests.channels_app.email_support import PNG
from tests.factories import (
    AgentFactory,
    ConversationFactory,
    CustomerIdentityFactory,
    MessageFactory,
    member,
)
from tests.loopback import LoopbackServer


def test_cc_takes_addresses_separated_by_commas_semicolons_or_spaces_once_each():
    assert email_cc_clean("boss@example.org; Team@Example.org, team@example.org  a.b@c.de") == [
        "boss@example.org",
        "Team@Example.org",
        "a.b@c.de",
    ]
    assert email_cc_clean("") == [] and email_cc_clean(["x@y.org"]) == ["x@y.org"]


@pytest.mark.parametrize(
    "cc",
    ["boss", "boss@", "boss@localhost", "a@b.org\r\nBcc: evil@x.org", "<a@b.org>", ["a@b.org", 3]],
)
def test_a_wrong_cc_address_is_refused_with_the_reason(cc):
    with pytest.raises(SendRefused) as refused:
        email_cc_clean(cc)
    assert "Cc" in " ".join(refused.value.messages)


def test_more_than_ten_cc_addresses_are_refused():
    with pytest.raises(SendRefused, match="at most 10"):
        email_cc_clean(",".join(f"p{n}@example.org" for n in range(11)))


def test_the_agents_html_keeps_formatting_and_loses_scripts_and_the_text_keeps_lists_and_links():
    html, text = email_html_clean(
        "<div>Hello <b>Erika</b>, <i>sorry</i>!</div><ul><li>Left shoe</li><li>Right shoe</li></ul>"
        '<ol><li>Pack</li><li>Ship</li></ol><a href="https://acme.test/track?id=1&amp;x=2">Track</a>'
        "<script>alert(1)</script><img src=x onerror=alert(2)>"
        '<a href="javascript:alert(3)">bad</a><p style="color:red" onclick="x()">end</p>'
    )
    assert "<b>Erika</b>" in html and "<i>sorry</i>" in html
    assert "<ul><li>Left shoe</li><li>Right shoe</li></ul>" in html
    assert 'href="https://acme.test/track?id=1&amp;x=2"' in html
    assert "script" not in html and "onerror" not in html and "javascript" not in html
    assert "onclick" not in html and "style" not in html
    assert "Hello Erika, sorry!" in text
    assert "\n- Left shoe\n- Right shoe\n" in text and "\n1. Pack\n2. Ship\n" in text
    assert "Track (https://acme.test/track?id=1&x=2)" in text


def test_html_without_any_text_is_refused():
    with pytest.raises(SendRefused, match="needs some text"):
        email_html_clean("<p><br></p><script>only this</script>")


@pytest.fixture
def email_conversation(webhook_asset, agent):
    identity = CustomerIdentityFactory(
        customer__tenant=webhook_asset.tenant, kind=ChannelKind.EMAIL, address="erika@example.org"
    )
    return ConversationFactory(
        asset=webhook_asset, identity=identity, customer=identity.customer, owner=agent
    )


def inbound(conversation, html: str) -> Message:
    return MessageFactory(
        conversation=conversation,
        direction=Direction.INBOUND,
        provider_message_id="order@example.org",
        content={"html": html, "subject": "Parcel 4711"},
    )


def test_the_composed_mail_goes_out_with_cc_subject_both_parts_and_threading(
    client, agent, email_conversation, smtp_server, django_capture_on_commit_callbacks
):
    inbound(email_conversation, "<p>Where is it?</p>")
    client.force_login(agent.user)
    url = reverse("desktop-email-reply", args=[email_conversation.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "html": "<p>It is <b>shipped</b></p><script>x</script>",
                "subject": " Re:  Parcel ",
                "cc": "boss@example.org",
            },
            content_type="application/json",
        )

    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.content == {
        "html": "<p>It is <b>shipped</b></p>",
        "cc": ["boss@example.org"],
        "subject": "Re: Parcel",
    }
    assert message.text == "It is shipped"
    [(_, sent)] = smtp_server.messages
    assert sent["Cc"] == "boss@example.org" and sent["Subject"] == "Re: Parcel"
    assert sent["In-Reply-To"] == "<order@example.org>"
    assert "<b>shipped</b>" in sent.get_body(("html",)).get_content()
    assert "script" not in sent.get_body(("html",)).get_content()
    assert sent.get_body(("plain",)).get_content().strip() == "It is shipped"


def test_a_wrong_cc_or_a_bad_body_is_a_400_with_the_reason_and_nothing_is_stored(
    client, agent, email_conversation
):
    client.force_login(agent.user)
    url = reverse("desktop-email-reply", args=[email_conversation.pk])

    wrong_cc = client.post(
        url, {"html": "<p>Hi</p>", "cc": "boss"}, content_type="application/json"
    )
    not_json = client.post(url, "{", content_type="application/json")

    assert (
        wrong_cc.status_code == 400 and "'boss' is not an email address" in wrong_cc.json()["error"]
    )
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_the_email_composer_is_refused_in_a_conversation_of_another_channel(client, agent):
    conversation = ConversationFactory(asset__tenant=agent.tenant, owner=agent)
    client.force_login(agent.user)

    response = client.post(
        reverse("desktop-email-reply", args=[conversation.pk]),
        {"html": "<p>Hi</p>"},
        content_type="application/json",
    )

    assert response.status_code == 400 and "email conversations" in response.json()["error"]


def test_an_outsider_or_a_colleague_cannot_send_in_the_conversation(
    client, agent, team, outsider, other_tenant, email_conversation
):
    url = reverse("desktop-email-reply", args=[email_conversation.pk])
    colleague = AgentFactory(
        tenant=agent.tenant, team=team, user=member(tenant=agent.tenant, care_profile="agent")
    )
    stranger = AgentFactory(tenant=other_tenant, user=outsider)
    for user in (colleague.user, stranger.user):
        client.force_login(user)
        response = client.post(url, {"html": "<p>Hi</p>"}, content_type="application/json")
        assert response.status_code == 404
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


@pytest.fixture
def image_server(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    with LoopbackServer() as server:
        server.routes["/logo.png"] = lambda h: h.reply(200, PNG, {"Content-Type": "text/html"})
        server.routes["/page"] = lambda h: h.reply(200, b"<script>x</script>", {})
        yield server


def image_url(message: Message, src: str) -> str:
    return (
        reverse("desktop-email-image", args=[message.pk]) + "?" + f"src={src}".replace("&", "%26")
    )


def test_a_remote_image_of_the_message_is_fetched_and_served_from_our_origin(
    client, agent, email_conversation, image_server
):
    src = f"{image_server.url}/logo.png?v=1&size=2"
    message = inbound(email_conversation, f'<p>Hi <img src="{src}" alt="logo"></p>')
    client.force_login(agent.user)

    page = client.get(reverse("desktop-conversation", args=[email_conversation.pk]))
    response = client.get(image_url(message, src))

    assert b"Show images" in page.content
    assert f'data-src="{src.replace("&", "&amp;")}"'.encode() in page.content
    assert response.status_code == 200 and response.content == PNG
    # The detected type, not the remote server's word, and the browser may not sniff.
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert [r["path"] for r in image_server.requests] == ["/logo.png?v=1&size=2"]


def test_an_image_not_in_the_message_is_refused_and_nothing_is_fetched(
    client, agent, email_conversation, image_server
):
    message = inbound(email_conversation, f'<p><img src="{image_server.url}/logo.png"></p>')
    client.force_login(agent.user)

    other = client.get(image_url(message, f"{image_server.url}/page"))
    missing = client.get(reverse("desktop-email-image", args=[message.pk]))

    assert other.status_code == 400 and "not in the message" in other.json()["error"]
    assert missing.status_code == 400
    assert image_server.requests == []


def test_what_is_not_an_image_is_not_served(client, agent, email_conversation, image_server):
    src = f"{image_server.url}/page"
    message = inbound(email_conversation, f'<p><img src="{src}"></p>')
    client.force_login(agent.user)

    response = client.get(image_url(message, src))

    assert response.status_code == 502 and "not an image" in response.json()["error"]


def test_an_image_on_a_private_address_is_refused_by_the_outbound_guard(
    client, agent, email_conversation, settings
):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    src = "http://10.1.2.3/inside.png"
    message = inbound(email_conversation, f'<p><img src="{src}"></p>')
    client.force_login(agent.user)

    response = client.get(image_url(message, src))

    assert response.status_code == 403
    assert "may not be fetched" in response.json()["error"]


def test_an_outsider_or_a_colleague_gets_404_for_the_image(
    client, agent, team, outsider, other_tenant, email_conversation, image_server
):
    src = f"{image_server.url}/logo.png"
    message = inbound(email_conversation, f'<p><img src="{src}"></p>')
    colleague = AgentFactory(
        tenant=agent.tenant, team=team, user=member(tenant=agent.tenant, care_profile="agent")
    )
    stranger = AgentFactory(tenant=other_tenant, user=outsider)
    for user in (colleague.user, stranger.user):
        client.force_login(user)
        assert client.get(image_url(message, src)).status_code == 404
    assert image_server.requests == []
