"""Report figures against the hand-counted center of conftest (9 and 10 March)."""

import csv
import io
import re

import pytest

from routing.flows.models import GlobalVariable
from tests.care_console.conftest import day_range


@pytest.fixture
def report(center, owner, client_for):
    def get(name, user=None, **params):
        client = client_for(user or owner)
        response = client.get(f"/care/reports/{name}.json", day_range(**params))
        assert response.status_code == 200, response.content
        data = response.json()
        return data["columns"], data["rows"]

    return get


def test_contacts_per_channel_per_day_and_per_hour(report):
    assert report("contacts_per_channel") == (
        ["period", "chat"],
        [["2026-03-09", 1], ["2026-03-10", 6]],
    )
    assert report("contacts_per_channel", bucket="hour")[1] == [
        ["2026-03-09 10:00", 1],
        ["2026-03-10 11:00", 6],
    ]


def test_contacts_per_queue_per_day(report):
    assert report("contacts_per_queue") == (
        ["period", "Sales chat", "Support chat"],
        [["2026-03-09", 0, 1], ["2026-03-10", 1, 5]],
    )


def test_wait_time_distribution_of_answered_contacts(report):
    columns, rows = report("wait_time")
    # Ida 10 s, Dana 30 s, Erik 120 s.
    assert [r[1] for r in rows] == [0, 1, 1, 0, 1, 0, 0]
    assert rows[0][0] == "under 10 s" and rows[-1][0] == "15 min or more"


def test_handle_time_distribution_of_closed_contacts(report):
    # Erik 18 min, Ida 29 min 50 s.
    assert [r[1] for r in report("handle_time")[1]] == [0, 0, 0, 2, 0, 0]


def test_service_level_per_queue_against_its_target(report):
    # Support: answered within 60 s Dana and Ida, not Erik; Fay abandoned: 2 of 4.
    assert report("service_level")[1] == [["Sales chat", None, 80], ["Support chat", 50.0, 80]]


def test_abandonment_counts_contacts_closed_while_waiting(report):
    assert report("abandonment")[1] == [["Sales chat", 0, 1], ["Support chat", 1, 6]]


def test_rona_per_agent_and_wrap_up_codes(report):
    assert report("rona_per_agent")[1] == [["Ann", 2]]
    assert report("wrap_up_codes")[1] == [["Follow-up needed", 1], ["Resolved", 1]]


def test_custom_report_groups_by_a_reportable_variable_with_sum_and_average(center, report):
    GlobalVariable.objects.create(
        tenant=center.tenant, name="segment", type="string", reportable=True
    )
    GlobalVariable.objects.create(
        tenant=center.tenant, name="order_total", type="number", reportable=True
    )
    assert report("custom", variable="segment")[1] == [
        ["gold", 2],
        ["silver", 1],
        ["(not set)", 4],
    ]
    columns, rows = report("custom", variable="segment", measure="order_total")
    assert columns == ["segment", "conversations", "sum of order_total", "average order_total"]
    assert rows == [["gold", 2, 65.0, 32.5], ["silver", 1, 20.0, 20.0]]


def test_only_reportable_variables_can_be_reported_on(center, owner, client_for):
    GlobalVariable.objects.create(tenant=center.tenant, name="segment", type="string")
    response = client_for(owner).get("/care/reports/custom.json", day_range(variable="segment"))
    assert response.status_code == 400
    assert "segment is not one of the available choices" in response.json()["error"]


def test_bad_report_parameters_answer_400_and_unknown_reports_404(center, owner, client_for):
    client = client_for(owner)
    backwards = client.get(
        "/care/reports/wait_time.json", {"date_from": "2026-03-10", "date_to": "2026-03-01"}
    )
    assert backwards.status_code == 400
    assert "before the start date" in backwards.json()["error"]
    assert client.get("/care/reports/wait_time.json", {"bucket": "week"}).status_code == 400
    assert client.get("/care/reports/nonsense.json").status_code == 404


def test_each_chart_has_a_csv_download(center, owner, client_for):
    response = client_for(owner).get("/care/reports/contacts_per_queue.csv", day_range())
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert list(csv.reader(io.StringIO(response.content.decode()))) == [
        ["period", "Sales chat", "Support chat"],
        ["2026-03-09", "0", "1"],
        ["2026-03-10", "1", "5"],
    ]


def test_the_reports_page_draws_with_the_vendored_chart_js(center, supervisor, client_for):
    html = client_for(supervisor).get("/care/reports/").content.decode()
    assert "/static/care/vendor/chart.umd.min.js" in html
    # Every script and style comes from this server (a random CSRF token may spell "cdn").
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count('class="chart"') == 9


def test_a_supervisor_reports_on_their_teams_and_queues_only(center, supervisor, report):
    assert report("contacts_per_queue", user=supervisor) == (
        ["period", "Support chat"],
        [["2026-03-09", 1], ["2026-03-10", 5]],
    )
    assert report("contacts_per_channel", user=supervisor)[1] == [
        ["2026-03-09", 1],
        ["2026-03-10", 5],
    ]


def test_the_outsider_gets_no_figures_of_acme(center, outsider, report):
    for name in ("contacts_per_channel", "contacts_per_queue", "rona_per_agent", "wrap_up_codes"):
        assert report(name, user=outsider)[1] == [], name
    assert [r[1] for r in report("wait_time", user=outsider)[1]] == [0] * 7


def test_the_outsiders_chart_csv_holds_no_acme_rows(center, outsider, client_for):
    response = client_for(outsider).get("/care/reports/wrap_up_codes.csv", day_range())
    assert response.content.decode().strip().splitlines() == ["wrap-up code,conversations"]
