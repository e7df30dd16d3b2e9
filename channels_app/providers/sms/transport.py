from channels_app.media import media_max_bytes
from channels_app.outbound_media import outbound_media_url
from channels_app.providers.base import Media, MediaRef, PermanentSendError, SendResult
from channels_app.providers.http import call
from config.outbound import OutboundResponse

TWILIO_API_BASE_URL = "https://api.twilio.com"


def twilio_reason(response: OutboundResponse) -> str:
    data = response.json()
    return f"{data.get('message', '')} [code {data.get('code', '?')}]"


class TwilioTransport:
    def __init__(self, asset):
        self.asset = asset
        self.base = (asset.api_base_url or TWILIO_API_BASE_URL).rstrip("/")
        self.auth = (asset.sms_account_sid, asset.auth_token)

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        form = {"To": to, "From": self.asset.sms_number, "Body": message.text}
        if message.content.get("attachment"):
            # MMS: Twilio fetches the file from us by a signed, expiring link.
            form["MediaUrl"] = outbound_media_url(attachment=message.attachments.get())
        response = call(
            "POST",
            f"{self.base}/2010-04-01/Accounts/{self.asset.sms_account_sid}/Messages.json",
            data=form,
            auth=self.auth,
            headers={"I-Twilio-Idempotency-Token": idempotency_key},
            reason=twilio_reason,
        )
        try:
            return SendResult(provider_message_id=response.json()["sid"])
        except (ValueError, KeyError) as exc:
            raise PermanentSendError(
                f"unexpected answer from Twilio: {response.text[:200]}"
            ) from exc

    def mark_read(self, *, message) -> None:
        """SMS has no read receipts."""

    def download(self, *, ref: MediaRef) -> Media:
        # Twilio answers media URLs with a redirect to its storage; each hop is checked.
        response = call(
            "GET",
            ref.url,
            auth=self.auth,
            follow_redirects=True,
            max_bytes=media_max_bytes(self.asset.kind),
            reason=lambda r: r.text[:200],
        )
        return Media(
            content=response.content,
            content_type=ref.declared_content_type or response.headers.get("content-type", ""),
        )
