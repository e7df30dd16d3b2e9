"""How an email shows in the desktop and the care console: safe HTML with its table, inline
images from our own attachment URL, remote images held back, quoted history collapsed."""

import pytest
from django.template.loader import render_to_string

from channels_app.models import Message
from tests.channels_app.conftest import webhook_url
from tests.channels_app.email_support import mail, signed_form


@pytest.fixture
def receive(client, django_capture_on_commit_callbacks, webhook_asset):
    def post(raw: bytes) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            client.post(webhook_url(webhook_asset), data=signed_form(raw))
        return Message.objects.latest("pk")

    return post


def render(message: Message, **context) -> str:
    return render_to_string("desktop/messages/email/text.html", {"message": message, **context})


def test_an_html_mail_shows_its_table_and_no_script(receive):
    message = receive(
        mail(
            html="<table><tr><td>Shoes</td></tr></table><script>window.pwned=1</script>"
            "<img src=x onerror='window.pwned=2'>",
            headers={"Cc": "boss@example.org"},
        )
    )

    page = render(message)

    assert "<td>Shoes</td>" in page
    assert "<script" not in page and "pwned" not in page and "onerror" not in page
    assert "Parcel 4711" in page and "Cc: boss@example.org" in page


def test_an_inline_image_points_at_our_attachment_and_a_remote_one_is_held_back(receive):
    message = receive(
        mail(
            html='<p><img src="cid:logo@acme" alt="logo"> <img src="https://t.example/p.gif"'
            ' alt="tracker"></p>',
            inline_png="logo@acme",
            attachment=("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"),
        )
    )
    logo = message.attachments.get(filename="logo.png")

    page = render(message)

    assert f'src="/desktop/attachments/{logo.pk}/"' in page
    # Not loaded: the address is only kept for the "Show images" button.
    assert ' src="https://t.example' not in page and "[tracker]" in page
    assert 'data-src="https://t.example/p.gif"' in page
    assert "1 remote image not loaded" in page
    # The inline image is shown in the body, not again as a file; the PDF is a file.
    assert page.count("logo.png") == 0 and "invoice.pdf" in page


def test_quoted_history_is_collapsed(receive):
    message = receive(
        mail(
            text="Still waiting.\n\nOn Mon, 1 Jun 2026, Support wrote:\n> We will check.",
            html="<p>Still waiting.</p><blockquote><p>We will check.</p></blockquote>",
        )
    )

    page = render(message)

    body, quoted = page.split("<details", 1)
    assert "Still waiting." in body and "We will check." not in body
    assert "We will check." in quoted


def test_the_care_console_links_files_to_its_own_download(receive):
    message = receive(mail(attachment=("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")))
    pdf = message.attachments.get()

    page = render(message, attachment_url="care-attachment", show_scan=True)

    assert "invoice.pdf" in page and "scan:" in page
    assert f'href="/care/attachments/{pdf.pk}/"' in page and "/desktop/" not in page
