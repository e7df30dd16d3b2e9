"""The hourly rollup the reports read, against the same reports computed from the source rows."""

from datetime import date

import pytest

from care_console.access import care_scope_for_user
from care_console.models import TaskHour
from care_console.reports import ROLLED_UP, report, report_from_source
from care_console.tasks import fold_report_rollups
from routing.flows.models import GlobalVariable
from routing.models import TaskEvent
from tests.care_console.conftest import at, conversation, routed

DAYS = {"date_from": date(2026, 3, 9), "date_to": date(2026, 3, 10)}


def both(scope, name, bucket="day"):
    params = {**DAYS, "bucket": bucket}
    return (
        report(scope=scope, name=name, params=params),
        report_from_source(scope=scope, name=name, params=params),
    )


@pytest.mark.parametrize("bucket", ["day", "hour"])
@pytest.mark.parametrize("name", ROLLED_UP)
def test_rollup_reports_equal_the_reports_computed_from_the_source(
    center, owner, supervisor, name, bucket
):
    for user in (owner, supervisor):
        scope = care_scope_for_user(user=user, tenant=center.tenant)
        rolled, direct = both(scope, name, bucket)
        assert rolled == direct


@pytest.mark.parametrize("measure", ["", "order_total"])
def test_the_custom_report_from_the_rollup_equals_the_one_from_the_source(
    center, owner, supervisor, measure
):
    for name, type_ in (("segment", "string"), ("order_total", "number")):
        GlobalVariable.objects.create(tenant=center.tenant, name=name, type=type_, reportable=True)
    params = {**DAYS, "bucket": "day", "variable": "segment", "measure": measure}
    for user in (owner, supervisor):
        scope = care_scope_for_user(user=user, tenant=center.tenant)
        rolled = report(scope=scope, name="custom", params=params)
        assert rolled == report_from_source(scope=scope, name="custom", params=params)
    assert rolled["rows"]


def test_a_variable_made_reportable_later_is_folded_for_every_hour(center, owner):
    scope = care_scope_for_user(user=owner, tenant=center.tenant)
    both(scope, "wrap_up_codes")
    GlobalVariable.objects.create(
        tenant=center.tenant, name="segment", type="string", reportable=True
    )
    params = {**DAYS, "bucket": "day", "variable": "segment", "measure": ""}
    rolled = report(scope=scope, name="custom", params=params)
    assert rolled == report_from_source(scope=scope, name="custom", params=params)
    assert rolled["rows"] == [["gold", 2], ["silver", 1], ["(not set)", 4]]


def test_a_report_folds_only_the_hours_touched_since_the_last_one(center, owner):
    scope = care_scope_for_user(user=owner, tenant=center.tenant)
    assert not TaskHour.objects.filter(tenant=center.tenant).exists()
    params = {**DAYS, "bucket": "day"}
    report(scope=scope, name="contacts_per_queue", params=params)
    # Rows of the last minutes are read again (their transactions may still have been running);
    # the hours of 9 March are settled and stay as they are.
    settled = TaskHour.objects.filter(tenant=center.tenant, hour__lt=at(0, 0))
    first = set(settled.values_list("pk", flat=True))
    assert first
    report(scope=scope, name="contacts_per_queue", params=params)
    assert set(settled.values_list("pk", flat=True)) == first


def test_a_contact_routed_after_a_report_was_read_shows_in_the_next_one(center, owner):
    scope = care_scope_for_user(user=owner, tenant=center.tenant)
    before, _ = both(scope, "contacts_per_queue")
    jon = conversation(
        center.tenant, name="Jon", opened=at(8, 0, day=9), owner=center.cat, closed=at(8, 20, day=9)
    )
    task = routed(
        jon,
        center.sales_queue,
        enqueued=at(8, 0, day=9),
        agent=center.cat,
        assigned=at(8, 0, 5, day=9),
        closed=at(8, 20, day=9),
    )
    TaskEvent.objects.create(
        tenant=center.tenant, task=task, kind="rona", at=at(7, 30, day=9), agent=center.ben
    )
    for name in ROLLED_UP:
        rolled, direct = both(scope, name)
        assert rolled == direct, name
    assert both(scope, "rona_per_agent")[0]["rows"] == [["Ann", 2], ["Ben", 1]]
    after, _ = both(scope, "contacts_per_queue")
    assert after["rows"][0] == ["2026-03-09", 1, 1]
    assert before["rows"][0] == ["2026-03-09", 0, 1]


def test_a_conversation_closed_without_a_task_shows_in_the_wrap_up_codes(center, owner):
    scope = care_scope_for_user(user=owner, tenant=center.tenant)
    kim = conversation(center.tenant, name="Kim", opened=at(9, 0))
    assert both(scope, "wrap_up_codes")[0]["rows"] == [["Follow-up needed", 1], ["Resolved", 1]]
    kim.status, kim.closed_at, kim.wrap_up_code = "closed", at(11, 58), "Resolved"
    kim.save(update_fields=["status", "closed_at", "wrap_up_code"])
    rolled, direct = both(scope, "wrap_up_codes")
    assert rolled == direct
    assert rolled["rows"] == [["Resolved", 2], ["Follow-up needed", 1]]


def test_the_periodic_fold_brings_the_hours_up_to_date_without_a_report(center, owner):
    scope = care_scope_for_user(user=owner, tenant=center.tenant)
    both(scope, "contacts_per_queue")
    lea = conversation(center.tenant, name="Lea", opened=at(6, 0, day=9))
    routed(lea, center.sales_queue, enqueued=at(6, 0, day=9))
    early = TaskHour.objects.filter(tenant=center.tenant, hour=at(6, 0, day=9))
    assert not early.exists()
    assert fold_report_rollups() == 1
    assert list(early.values_list("queue_id", "contacts")) == [(center.sales_queue.pk, 1)]
