import re
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from channels_app.fields import EncryptedTextField
from tenants.models import Agent, Tenant


class ChannelKind(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    MESSENGER = "messenger", "Facebook Messenger"
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    CHAT = "chat", "Live chat"
    APPLE = "apple", "Apple Messages for Business"


# How a channel is named to customers and on the agent desktop's chips.
CHANNEL_DISPLAY_NAMES: dict[str, str] = {
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "sms": "SMS",
    "email": "Email",
    "chat": "Live chat",
    "apple": "Apple Messages",
}


def channel_display_name(kind: str) -> str:
    return CHANNEL_DISPLAY_NAMES.get(kind, kind)


class MediaType(models.TextChoices):
    """The routing channel type a kind belongs to (multimedia profiles count per media type)."""

    CHAT = "chat", "Chat"
    EMAIL = "email", "Email"
    SOCIAL = "social", "Social"


MEDIA_TYPE_OF_KIND: dict[str, str] = {
    ChannelKind.WHATSAPP: MediaType.SOCIAL,
    ChannelKind.MESSENGER: MediaType.SOCIAL,
    ChannelKind.SMS: MediaType.SOCIAL,
    ChannelKind.APPLE: MediaType.SOCIAL,
    ChannelKind.EMAIL: MediaType.EMAIL,
    ChannelKind.CHAT: MediaType.CHAT,
}


class SmsNumberType(models.TextChoices):
    LONG = "long", "Long code"
    SHORT = "short", "Short code"
    TOLL_FREE = "toll_free", "Toll-free"


class EmailIntake(models.TextChoices):
    IMAP = "imap", "Mailbox (IMAP in, SMTP out)"
    WEBHOOK = "webhook", "Mail service webhook (signed raw MIME, Mailgun scheme)"


class MailSecurity(models.TextChoices):
    TLS = "tls", "TLS from the start (IMAPS 993, SMTPS 465)"
    STARTTLS = "starttls", "STARTTLS (IMAP 143, SMTP 587)"
    NONE = "none", "None (loopback or a trusted network only)"


class ChannelAsset(models.Model):
    """One provider account (a WhatsApp number, a Facebook page, an SMS number, ...)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="channel_assets")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    name = models.CharField(max_length=120)
    # Provider ids (which ones apply depends on kind).
    wa_phone_number_id = models.CharField("WhatsApp phone-number id", max_length=64, blank=True)
    wa_business_account_id = models.CharField(
        "WhatsApp business account id", max_length=64, blank=True
    )
    fb_page_id = models.CharField("Facebook page id", max_length=64, blank=True)
    sms_number = models.CharField(
        "SMS number",
        max_length=20,
        blank=True,
        help_text="E.164 (+4915112345678), or a short code's digits.",
    )
    sms_number_type = models.CharField(max_length=20, choices=SmsNumberType.choices, blank=True)
    sms_account_sid = models.CharField("Twilio account SID", max_length=64, blank=True)
    # Secrets: encrypted at rest, never shown back in full, never logged.
    app_secret = EncryptedTextField(blank=True)
    verify_token = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True)
    auth_token = EncryptedTextField(blank=True)
    api_base_url = models.URLField(
        blank=True, help_text="Provider API base URL; empty means the provider's real one."
    )
    # Email: the address customers write to, how mail arrives, and the mailbox's servers.
    email_address = models.EmailField(blank=True)
    email_intake = models.CharField(
        max_length=10, choices=EmailIntake.choices, blank=True, default=""
    )
    imap_host = models.CharField("IMAP host", max_length=255, blank=True)
    imap_port = models.PositiveIntegerField("IMAP port", null=True, blank=True)
    imap_security = models.CharField(
        "IMAP security",
        max_length=10,
        choices=MailSecurity.choices,
        default=MailSecurity.TLS,
        blank=True,
    )
    imap_user = models.CharField("IMAP user", max_length=255, blank=True)
    imap_password = EncryptedTextField("IMAP password", blank=True)
    imap_folder = models.CharField("IMAP folder", max_length=255, default="INBOX", blank=True)
    smtp_host = models.CharField("SMTP host", max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField("SMTP port", null=True, blank=True)
    smtp_security = models.CharField(
        "SMTP security",
        max_length=10,
        choices=MailSecurity.choices,
        default=MailSecurity.STARTTLS,
        blank=True,
    )
    smtp_user = models.CharField("SMTP user", max_length=255, blank=True)
    smtp_password = EncryptedTextField("SMTP password", blank=True)
    email_signing_key = EncryptedTextField(
        "webhook signing key", blank=True, help_text="The mail service's HTTP webhook signing key."
    )
    # Apple Messages for Business: the business id customers write to, and the messaging service
    # provider's (MSP) id and API secret that sign Apple's JWTs both ways.
    apple_business_id = models.CharField("Apple business id", max_length=64, blank=True)
    apple_msp_id = models.CharField("Apple MSP id", max_length=64, blank=True)
    apple_msp_secret = EncryptedTextField(
        "Apple MSP secret", blank=True, help_text="The MSP API secret, base64 as Apple issues it."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="asset_unique_name"),
            models.UniqueConstraint(
                fields=["apple_business_id"],
                condition=~Q(apple_business_id=""),
                name="asset_unique_apple_business_id",
            ),
            models.UniqueConstraint(
                fields=["wa_phone_number_id"],
                condition=~Q(wa_phone_number_id=""),
                name="asset_unique_wa_phone_number_id",
            ),
            models.UniqueConstraint(
                fields=["fb_page_id"], condition=~Q(fb_page_id=""), name="asset_unique_fb_page_id"
            ),
            models.UniqueConstraint(
                fields=["sms_number"], condition=~Q(sms_number=""), name="asset_unique_sms_number"
            ),
            models.UniqueConstraint(
                fields=["email_address"],
                condition=~Q(email_address=""),
                name="asset_unique_email_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPE_OF_KIND[self.kind]


class InboundEvent(models.Model):
    """A provider's webhook event, stored raw before anything else happens to it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (a kind we do not handle)"
        DEAD = "dead", "Dead letter"

    # No single-column indexes: (tenant, status, received) and (asset, provider id) serve those
    # lookups, and every index is paid for on the webhook's hot insert.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="inbound_events", db_index=False
    )
    asset = models.ForeignKey(
        ChannelAsset, on_delete=models.CASCADE, related_name="inbound_events", db_index=False
    )
    provider_event_id = models.CharField(max_length=255)
    body = models.TextField()
    content_type = models.CharField(max_length=100, default="application/json")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # Providers redeliver: the database, not a check-then-insert, keeps one copy.
            models.UniqueConstraint(
                fields=["asset", "provider_event_id"], name="event_unique_per_asset"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.asset.kind} event {self.provider_event_id}"


class MailboxState(models.Model):
    """Where IMAP intake stands in an email asset's mailbox: UIDs up to last_uid are stored.

    UIDs only grow within one UIDVALIDITY; a new UIDVALIDITY (the server rebuilt the folder) starts
    again from 0, and the raw events' unique Message-ID keeps mails already stored from repeating."""

    asset = models.OneToOneField(
        ChannelAsset, on_delete=models.CASCADE, primary_key=True, related_name="mailbox_state"
    )
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    checked_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Mailbox of {self.asset}: UID {self.last_uid} of {self.uidvalidity}"


class Customer(models.Model):
    """One person per tenant, reachable through one identity per channel."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="customers")
    display_name = models.CharField(max_length=200, blank=True)
    # Set once an agent or admin names the customer: a provider's profile name never replaces it.
    name_set_by_agent = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    # A record merged into another: kept (with nothing on it) so that the merge can be undone.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name or f"Customer {self.pk}"


class CustomerIdentity(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    address = models.CharField(
        max_length=255, help_text="WhatsApp id, page-scoped id, E.164 number, email"
    )

    class Meta:
        verbose_name_plural = "customer identities"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "address"], name="identity_unique_address"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"


class CustomerMerge(models.Model):
    """Two customer records made one: what moved from `merged` to `survivor`, so it can be undone."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges_in")
    merged = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges_out")
    by = models.ForeignKey(
        "tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    identity_ids = models.JSONField(default=list)
    conversation_ids = models.JSONField(default=list)
    # The survivor's profile before the merge (the merge adds the other record's notes and tags).
    survivor_before = models.JSONField(default=dict)
    undone_by = models.ForeignKey(
        "tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(survivor=models.F("merged")), name="customer_merge_two_records"
            ),
        ]

    def __str__(self) -> str:
        return f"Customer {self.merged_id} merged into {self.survivor_id}"


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    asset = models.ForeignKey(ChannelAsset, on_delete=models.PROTECT, related_name="conversations")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="conversations")
    identity = models.ForeignKey(
        CustomerIdentity, on_delete=models.PROTECT, related_name="conversations"
    )
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The agent who accepted the conversation (set by routing on accept).
    owner = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_conversations"
    )
    # Flow and agent variables; values of global and flow variables live here.
    variables = models.JSONField(default=dict, blank=True)
    wrap_up_code = models.CharField(max_length=80, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            # A new inbound on a closed conversation starts a new one; only one open per pair.
            models.UniqueConstraint(
                fields=["asset", "identity"],
                condition=Q(status="open"),
                name="conversation_one_open_per_identity",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-last_message_at"]),
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "last_message_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} conversation with {self.customer}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPE_OF_KIND[self.kind]


class ConversationLink(models.Model):
    """A conversation that continues a closed one (an email reply to a closed thread)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="continues"
    )
    previous = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="continued_by"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Conversation {self.conversation_id} continues {self.previous_id}"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    BOT = "bot", "Bot (flow)"
    SYSTEM = "system", "System"


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # inbound
    PENDING = "pending", "Pending"  # outbound, not yet accepted by the provider
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"


class Message(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    asset = models.ForeignKey(ChannelAsset, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    author_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    author_agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # text, image, document, audio, voice, video, sticker, location, contacts, reaction,
    # quick_reply, postback, template, interactive, ...
    content_type = models.CharField(max_length=30, default="text")
    text = models.TextField(blank=True)
    content = models.JSONField(default=dict, blank=True, help_text="Structured rich content")
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply_to_provider_id = models.CharField(max_length=255, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    # One send per message, even if the sending task runs twice.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Inbound: when an agent saw it (drives read receipts to the provider).
    seen_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # Outbound: a send in progress holds the message until then; past it, a retry may claim it.
    send_claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_unique_provider_id",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.content_type} message {self.pk}"


class Attachment(models.Model):
    class ScanStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        CLEAN = "clean", "Clean"
        INFECTED = "infected", "Infected"
        ERROR = "error", "Scan failed"
        # No scanner configured (the embedded default), or nothing kept to scan: withheld.
        NOT_SCANNED = "not_scanned", "Not scanned"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/%d/", blank=True)
    filename = models.CharField(max_length=255, blank=True)
    declared_content_type = models.CharField(max_length=120, blank=True)
    detected_content_type = models.CharField(max_length=120, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    provider_media_id = models.CharField(max_length=255, blank=True)
    provider_url = models.URLField(max_length=1000, blank=True)
    scan_status = models.CharField(
        max_length=12, choices=ScanStatus.choices, default=ScanStatus.PENDING
    )
    scan_signature = models.CharField(max_length=255, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    # When a scan was last queued: the sweep re-queues pending scans left behind by an outage.
    scan_queued_at = models.DateTimeField(null=True, blank=True)
    # Why the channel template refused the file (type or size); its bytes are not kept.
    refused_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["scan_queued_at"],
                condition=Q(scan_status="pending"),
                name="attachment_pending_scan",
            )
        ]

    def __str__(self) -> str:
        return self.filename or f"Attachment {self.pk}"

    @property
    def downloadable(self) -> bool:
        """Only files a scan found clean are ever served."""
        return (
            self.scan_status == self.ScanStatus.CLEAN
            and bool(self.file)
            and not self.refused_reason
        )

    @property
    def shown_as_unknown(self) -> bool:
        """An infected file is shown as an unknown file: no name, no type, no link."""
        return self.scan_status == self.ScanStatus.INFECTED

    @property
    def content_type(self) -> str:
        return self.detected_content_type or self.declared_content_type


class MalwareDetection(models.Model):
    """The audit of an infected attachment: what was found, where, and that its file was deleted."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    attachment = models.ForeignKey(
        Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    signature = models.CharField(max_length=255)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=120, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-detected_at"])]

    def __str__(self) -> str:
        return f"{self.signature} in {self.filename or 'a file'}"


class RichElement(models.TextChoices):
    """Rich message elements the agent desktop can render for a channel."""

    BUTTONS = "buttons", "Reply buttons"
    QUICK_REPLIES = "quick_replies", "Quick replies"
    LISTS = "lists", "List pickers"
    LOCATIONS = "locations", "Locations"
    CONTACTS = "contacts", "Contact cards"
    TEMPLATES = "templates", "Message templates"
    REACTIONS = "reactions", "Reactions"
    TIME_PICKERS = "time_pickers", "Time pickers"
    FORMS = "forms", "Forms"
    RICH_LINKS = "rich_links", "Rich links"
    IMAGE_PREVIEWS = "image_previews", "Inline image previews"


# The rich element a message's content type needs on the desktop; a channel whose template leaves
# it out shows such a message as plain text (with its attachments).
RICH_ELEMENT_OF_CONTENT_TYPE: dict[str, str] = {
    "location": RichElement.LOCATIONS,
    "contacts": RichElement.CONTACTS,
    "quick_reply": RichElement.QUICK_REPLIES,
    "postback": RichElement.BUTTONS,
    "interactive": RichElement.BUTTONS,
    "template": RichElement.TEMPLATES,
    "reaction": RichElement.REACTIONS,
    "list_picker": RichElement.LISTS,
    "time_picker": RichElement.TIME_PICKERS,
    "form": RichElement.FORMS,
    "rich_link": RichElement.RICH_LINKS,
}

MB = 1024 * 1024
_OFFICE = [
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
]

# What each channel shows and accepts until a tenant saves its own template. The sources of the
# attachment rules (the providers' documented limits) are in docs/attachments.md.
CHANNEL_TEMPLATE_DEFAULTS: dict[str, dict] = {
    ChannelKind.WHATSAPP: {
        "colour": "#25d366",
        "rich_elements": [
            "buttons",
            "lists",
            "locations",
            "contacts",
            "templates",
            "reactions",
            "image_previews",
        ],
        "allowed_content_types": [
            "image/jpeg",
            "image/png",
            "image/webp",
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
            "video/mp4",
            "video/3gpp",
            "text/plain",
            "application/pdf",
            *_OFFICE,
        ],
        "max_bytes": 100 * MB,
    },
    ChannelKind.MESSENGER: {
        "colour": "#0084ff",
        "rich_elements": ["buttons", "quick_replies", "templates", "reactions", "image_previews"],
        "allowed_content_types": [
            "image/jpeg",
            "image/png",
            "image/gif",
            "audio/*",
            "video/*",
            "text/plain",
            "application/pdf",
            *_OFFICE,
        ],
        "max_bytes": 25 * MB,
    },
    ChannelKind.SMS: {
        "colour": "#f22f46",
        "rich_elements": ["image_previews"],
        "allowed_content_types": [
            "image/jpeg",
            "image/png",
            "image/gif",
            "audio/*",
            "video/*",
            "text/vcard",
            "text/x-vcard",
            "text/plain",
            "application/pdf",
        ],
        "max_bytes": 5 * MB,
    },
    ChannelKind.EMAIL: {
        "colour": "#6b7280",
        "rich_elements": ["rich_links", "image_previews"],
        "allowed_content_types": [
            "image/*",
            "audio/*",
            "video/*",
            "text/plain",
            "text/csv",
            "application/pdf",
            *_OFFICE,
        ],
        "max_bytes": 25 * MB,
    },
    ChannelKind.CHAT: {
        "colour": "#2563eb",
        "rich_elements": ["buttons", "quick_replies", "rich_links", "image_previews"],
        "allowed_content_types": ["image/jpeg", "image/png", "image/gif", "application/pdf"],
        "max_bytes": 10 * MB,
    },
    ChannelKind.APPLE: {
        "colour": "#34c759",
        "rich_elements": [
            "lists",
            "time_pickers",
            "forms",
            "rich_links",
            "quick_replies",
            "image_previews",
        ],
        "allowed_content_types": ["image/*", "video/*", "audio/*", "application/pdf"],
        "max_bytes": 100 * MB,
    },
}


class ChannelTemplate(models.Model):
    """Per tenant and channel: how the channel shows in the desktop and which files it takes."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="channel_templates")
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    label = models.CharField(max_length=40, help_text="The channel's name on the agent desktop.")
    colour = models.CharField(
        max_length=7,
        help_text="The channel's colour on the agent desktop, as #rrggbb.",
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give the colour as #rrggbb, e.g. #25d366.")
        ],
    )
    rich_elements = models.JSONField(
        default=list, blank=True, help_text="Rich elements the desktop renders for this channel."
    )
    allowed_content_types = models.JSONField(
        default=list,
        blank=True,
        help_text='Attachment types taken: exact ("application/pdf") or families ("image/*").',
    )
    max_bytes = models.PositiveBigIntegerField(
        help_text="Largest attachment taken, in bytes.",
        validators=[MinValueValidator(1)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind"], name="channel_template_unique_kind")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()})"

    @classmethod
    def default_for(cls, *, tenant: Tenant, kind: str) -> "ChannelTemplate":
        """The unsaved template a channel uses until the tenant saves its own."""
        defaults = CHANNEL_TEMPLATE_DEFAULTS[kind]
        return cls(
            tenant=tenant,
            kind=kind,
            label=channel_display_name(kind),
            colour=defaults["colour"],
            rich_elements=list(defaults["rich_elements"]),
            allowed_content_types=list(defaults["allowed_content_types"]),
            max_bytes=defaults["max_bytes"],
        )

    def renders(self, content_type: str) -> bool:
        """Whether the desktop renders this content type richly on this channel."""
        element = RICH_ELEMENT_OF_CONTENT_TYPE.get(content_type)
        return element is None or element in (self.rich_elements or [])

    @property
    def image_previews(self) -> bool:
        return RichElement.IMAGE_PREVIEWS in (self.rich_elements or [])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        elements = self.rich_elements
        known = set(RichElement.values)
        if not isinstance(elements, list) or any(e not in known for e in elements):
            errors["rich_elements"] = (
                f"A list of rich elements, each one of: {', '.join(sorted(known))}."
            )
        types = self.allowed_content_types
        if not isinstance(types, list) or any(
            not isinstance(t, str) or not CONTENT_TYPE_PATTERN.match(t) for t in types
        ):
            errors["allowed_content_types"] = (
                'A list of MIME types ("application/pdf") or families ("image/*").'
            )
        if errors:
            raise ValidationError(errors)


# "type/subtype" or "type/*", lower case.
CONTENT_TYPE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$")


class RetentionRun(models.Model):
    """One retention sweep over one tenant: what it deleted, and when. The audit of the purge."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="retention_runs")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(default=timezone.now)
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    raw_events = models.PositiveIntegerField(default=0)
    flow_runs = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    # Expired conversations something still points at (protected): kept and logged, retried next run.
    kept = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-started_at"])]

    def __str__(self) -> str:
        return f"Retention run of {self.tenant} at {self.started_at:%Y-%m-%d %H:%M}"


class WhatsAppTemplate(models.Model):
    """One message template of a WhatsApp asset's business account, as last fetched from the
    provider (GET /{WABA-ID}/message_templates); the stored copy is replaced on each refresh."""

    APPROVED = "APPROVED"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(
        ChannelAsset, on_delete=models.CASCADE, related_name="whatsapp_templates"
    )
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=20)
    status = models.CharField(max_length=20, help_text="APPROVED, PENDING, REJECTED, PAUSED, ...")
    category = models.CharField(max_length=40, blank=True)
    components = models.JSONField(default=list, blank=True)
    body_text = models.TextField(blank=True)
    parameter_count = models.PositiveSmallIntegerField(default=0)
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "name", "language"], name="whatsapp_template_unique_per_asset"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class ChatWidget(models.Model):
    """How a live-chat asset's widget looks and where it may be embedded.

    The public `widget_id` goes into the script tag; the asset's uuid never leaves the server.
    """

    class Position(models.TextChoices):
        BOTTOM_RIGHT = "bottom-right", "Bottom right"
        BOTTOM_LEFT = "bottom-left", "Bottom left"

    asset = models.OneToOneField(ChannelAsset, on_delete=models.CASCADE, related_name="chat_widget")
    widget_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin a line (https://www.example.com). The widget refuses to load or "
        "connect from any other site. Empty: only this server's own pages.",
    )
    title = models.CharField(max_length=80, default="Chat with us")
    greeting = models.CharField(max_length=300, default="Hello! How can we help?", blank=True)
    color = models.CharField(
        max_length=7, default="#1f6feb", validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$")]
    )
    position = models.CharField(
        max_length=20, choices=Position.choices, default=Position.BOTTOM_RIGHT
    )
    ask_name = models.BooleanField("pre-chat form asks the name", default=True)
    ask_email = models.BooleanField("pre-chat form asks the email", default=False)
    offline_text = models.CharField(
        max_length=300,
        default="No one is available right now: leave a message and we will answer by email.",
    )

    class Offline(models.TextChoices):
        MESSAGE = "message", "Leave a message (answered by email)"
        HIDE = "hide", "Hide the launcher"

    offline_behaviour = models.CharField(
        max_length=10,
        choices=Offline.choices,
        default=Offline.MESSAGE,
        help_text="What a visitor sees when no agent who serves a chat queue is available with "
        "room for a chat.",
    )
    prechat_fields = models.JSONField(
        "extra pre-chat fields",
        default=list,
        blank=True,
        help_text='A list of fields, e.g. [{"label": "Order number", "key": "order_number", '
        '"type": "text", "required": true}, {"label": "Topic", "key": "topic", "type": '
        '"select", "options": ["Billing", "Delivery"]}]. Types: text, email, select. Each '
        "answer becomes the flow variable named by its key.",
    )
    identity_secret = EncryptedTextField(
        "identity verification secret",
        blank=True,
        help_text="When set, a site may sign a visitor's id with HMAC-SHA256 and this secret; a "
        "verified visitor keeps their history across devices.",
    )

    def __str__(self) -> str:
        return f"Widget of {self.asset}"

    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()
        ]

    def clean(self) -> None:
        from channels_app.livechat.prechat import prechat_fields_problem

        if self.prechat_fields in (None, ""):
            self.prechat_fields = []
        problem = prechat_fields_problem(self.prechat_fields)
        if problem:
            raise ValidationError({"prechat_fields": problem})
