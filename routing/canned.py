"""Canned responses: which an agent may use, and their text with the conversation's values filled.

Filling is a strict substitution, never a template engine: `{{customer.name}}`, `{{agent.name}}`
and `{{conversation.<variable>}}` are replaced by plain text in one pass (a value that itself
looks like a placeholder stays as it is), and any other placeholder becomes empty."""

import re

from django.db.models import Q, QuerySet

from channels_app.models import Conversation
from routing.models import CannedResponse
from tenants.models import Agent

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]{1,100})\s*\}\}")
CONVERSATION_VARIABLE = re.compile(r"^conversation\.([A-Za-z][A-Za-z0-9_]{0,63})$")


def canned_responses_for_agent(*, agent: Agent) -> QuerySet[CannedResponse]:
    """The tenant's global responses and those of the agent's own team."""
    return CannedResponse.objects.filter(tenant_id=agent.tenant_id).filter(
        Q(team__isnull=True) | Q(team_id=agent.team_id)
    )


def canned_values(*, conversation: Conversation, agent: Agent) -> dict[str, str]:
    """What the placeholders may name, as text the agent would read."""
    from routing.desktop.readable import readable_for_agent
    from routing.flows.selectors import conversation_variable_declarations

    readable = readable_for_agent(agent=agent)
    declared = conversation_variable_declarations(conversation=conversation)
    stored = conversation.variables or {}
    values = {
        "customer.name": conversation.customer.display_name,
        "agent.name": str(agent),
    }
    for name in set(declared) | set(stored):
        spec = declared.get(name, {})
        value = stored.get(name, spec.get("default"))
        values[f"conversation.{name}"] = readable.value(spec.get("type") or "", value)
    return values


def _known(key: str) -> bool:
    return key in ("customer.name", "agent.name") or bool(CONVERSATION_VARIABLE.match(key))


def placeholders_unknown(text: str) -> list[str]:
    """Placeholders a response may not use (shown to whoever writes it)."""
    return sorted({m.group(1) for m in PLACEHOLDER.finditer(text) if not _known(m.group(1))})


def canned_fill(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        key = match.group(1)
        return (values.get(key, "") or "") if _known(key) else ""

    return PLACEHOLDER.sub(replace, text)
