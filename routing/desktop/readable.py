"""Values as an agent reads them: dates and times in their time zone, numbers in their locale.

The agent's own time zone and locale win; empty, the tenant's policy decides (UTC and English
unless an admin set others)."""

import json
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_decimal
from django.utils import timezone

from tenants.models import Agent, TenantPolicy


@dataclass(frozen=True)
class Readable:
    time_zone: zoneinfo.ZoneInfo
    locale: Locale

    def value(self, type_: str, value: Any) -> str:
        """One variable's value as text for the desktop; an empty string for no value."""
        if value is None or value == "":
            return ""
        if type_ == "boolean" or isinstance(value, bool):
            return "Yes" if value else "No"
        if type_ == "number" and isinstance(value, int | float):
            return format_decimal(value, locale=self.locale)
        if type_ == "datetime" and isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            return self.datetime(parsed)
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    def datetime(self, value: datetime) -> str:
        if timezone.is_naive(value):
            value = timezone.make_aware(value, zoneinfo.ZoneInfo("UTC"))
        return format_datetime(value, format="medium", tzinfo=self.time_zone, locale=self.locale)


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _locale(name: str) -> Locale | None:
    try:
        return Locale.parse(name.replace("-", "_")) if name else None
    except (ValueError, UnknownLocaleError):
        return None


def readable_for_agent(*, agent: Agent) -> Readable:
    policy = TenantPolicy.objects.filter(tenant_id=agent.tenant_id).first() or TenantPolicy()
    return Readable(
        time_zone=_zone(agent.time_zone) or _zone(policy.time_zone) or zoneinfo.ZoneInfo("UTC"),
        locale=_locale(agent.locale) or _locale(policy.locale) or Locale.parse("en"),
    )
