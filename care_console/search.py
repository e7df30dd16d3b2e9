"""Full-text search over message text: PostgreSQL's tsvector with the "simple" configuration
(no stemming, so names and order numbers match as typed), served by a GIN expression index
created in care_console's migrations. SQLite falls back to a case-insensitive substring match."""

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import Func, QuerySet

from channels_app.models import Message

# The index and the query must spell the same expression for PostgreSQL to use the index.
INDEX_NAME = "care_message_text_fts"
INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON channels_app_message "
    "USING gin (to_tsvector('simple'::regconfig, text))"
)


class SimpleTsVector(Func):
    function = "to_tsvector"
    template = "to_tsvector('simple'::regconfig, %(expressions)s)"
    output_field = SearchVectorField()


def messages_matching(*, tenant_id: int, text: str) -> QuerySet[Message]:
    messages = Message.objects.filter(tenant_id=tenant_id)
    if connection.vendor == "postgresql":
        return messages.annotate(fts=SimpleTsVector("text")).filter(
            fts=SearchQuery(text, config="simple", search_type="plain")
        )
    return messages.filter(text__icontains=text)
