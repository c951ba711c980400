"""The ladder follows its table (docs/processes.md) rung by rung, up and down — and the DMN alone drives it.

The same walk runs against the shipped decision table and against one whose every number was
changed in the test and deployed as a new version: the thresholds, the periods, the deadlines
in school days. If anything but the table decided, one of the two walks would fail.
"""
from __future__ import annotations

import re
from datetime import date

import pytest

from conftest import ROOT
from engine.core.calendar import SchoolCalendar
from factories import SKOLA, deploy_files, open_elements, start_case
from test_skolfranvaro import report, steg

DMN = (ROOT / "processes" / "skolfranvaro_trappa.dmn").read_text()
COLUMNS = ("steg_upp", "grans_upp", "perioder_upp", "grans_kvar", "perioder_utan_forbattring", "ogiltiga_perioder_upp",
           "frist_upp_skoldagar", "steg_ner", "grans_ner", "perioder_ner", "perioder_avsluta")
# docs/processes.md's table, one row per rung (99: never, 100 %: never).
README_TABLE = {
    0: dict(steg_upp=2, grans_upp=10, perioder_upp=1, grans_kvar=100, perioder_utan_forbattring=99,
            ogiltiga_perioder_upp=3, frist_upp_skoldagar=5, steg_ner=0, grans_ner=5, perioder_ner=99, perioder_avsluta=3),
    1: dict(steg_upp=2, grans_upp=10, perioder_upp=1, grans_kvar=100, perioder_utan_forbattring=99,
            ogiltiga_perioder_upp=3, frist_upp_skoldagar=5, steg_ner=0, grans_ner=5, perioder_ner=2, perioder_avsluta=3),
    2: dict(steg_upp=3, grans_upp=15, perioder_upp=1, grans_kvar=10, perioder_utan_forbattring=4,
            ogiltiga_perioder_upp=99, frist_upp_skoldagar=10, steg_ner=1, grans_ner=5, perioder_ner=2, perioder_avsluta=99),
    3: dict(steg_upp=4, grans_upp=15, perioder_upp=2, grans_kvar=10, perioder_utan_forbattring=4,
            ogiltiga_perioder_upp=99, frist_upp_skoldagar=5, steg_ner=2, grans_ner=5, perioder_ner=2, perioder_avsluta=99),
    4: dict(steg_upp=5, grans_upp=20, perioder_upp=2, grans_kvar=15, perioder_utan_forbattring=4,
            ogiltiga_perioder_upp=99, frist_upp_skoldagar=20, steg_ner=3, grans_ner=5, perioder_ner=2, perioder_avsluta=99),
    5: dict(steg_upp=5, grans_upp=100, perioder_upp=99, grans_kvar=100, perioder_utan_forbattring=99,
            ogiltiga_perioder_upp=99, frist_upp_skoldagar=20, steg_ner=4, grans_ner=5, perioder_ner=2, perioder_avsluta=99),
}
# Every number moved: other thresholds, more periods, other deadlines.
EDITED = {rung: dict(row) for rung, row in README_TABLE.items()}
for rung, changes in {0: dict(grans_upp=8, frist_upp_skoldagar=3, perioder_avsluta=2),
                      1: dict(grans_upp=8, frist_upp_skoldagar=3, grans_ner=4),
                      2: dict(grans_upp=12, perioder_upp=2, grans_kvar=8, perioder_utan_forbattring=3,
                              frist_upp_skoldagar=7, grans_ner=3, perioder_ner=3),
                      3: dict(grans_upp=18, perioder_upp=1, grans_kvar=12, perioder_utan_forbattring=3,
                              frist_upp_skoldagar=8, perioder_ner=1),
                      4: dict(grans_upp=25, perioder_upp=3, grans_kvar=20, perioder_utan_forbattring=5,
                              frist_upp_skoldagar=15, perioder_ner=3),
                      5: dict(perioder_ner=1)}.items():
    EDITED[rung].update(changes)
# The task each rung opens when the case climbs to it.
RUNG_TASK = {2: "mentorsuppfoljning", 3: "eht_kartlaggning", 4: "rektors_utredning", 5: "samtycke"}


def shipped_table() -> dict[int, dict[str, int]]:
    """The numbers of the shipped DMN, per rung."""
    cell = lambda rung, name: int(re.search(rf'<outputEntry id="r{rung}_{name}"><text>(\d+)</text>', DMN).group(1))  # noqa: E731
    return {rung: {name: cell(rung, name) for name in COLUMNS} for rung in range(6)}


def table_dmn(table: dict[int, dict[str, int]]) -> bytes:
    """The shipped DMN with `table`'s numbers in its cells."""
    text = DMN
    for rung, row in table.items():
        for name, value in row.items():
            text, n = re.subn(rf'(<outputEntry id="r{rung}_{name}"><text>)\d+(</text>)', rf"\g<1>{value}\g<2>", text)
            assert n == 1, (rung, name)
    return text.encode()


def test_the_shipped_table_is_the_readme_table():
    assert shipped_table() == README_TABLE
    docs = (ROOT / "docs" / "processes.md").read_text()
    for phrase in ("≥ 10 % in 1 period, or unexcused absence 3 periods in a row", "≥ 15 % in 1 period, or still ≥ 10 % for 4",
                   "≥ 15 % in 2 periods, or still ≥ 10 % for 4", "≥ 20 % in 2 periods, or still ≥ 15 % for 4",
                   "3 good periods close the case", "| 5 school days |", "| 10 school days |", "SIP: 20 school days"):
        assert phrase in docs, phrase


def _deploy(product, table) -> None:
    if table is README_TABLE:
        return
    with product.client("agda", "processagare") as owner:
        response = deploy_files(owner, "skolfranvaro.bpmn", "skolfranvaro_trappa.dmn", overrides={
            "skolfranvaro.bpmn": (ROOT / "processes" / "skolfranvaro.bpmn").read_bytes(),
            "skolfranvaro_trappa.dmn": table_dmn(table)})
        assert response.status_code == 201, response.text


def _counters(client, case_id: str) -> dict:
    """The ladder's counters and the row it read, for a failure's message."""
    data = client.get(f"/cases/{case_id}").json()["data"]
    return {k: data.get(k) for k in ("steg", "perioder", "perioder_over", "perioder_kvar", "perioder_under", "grans_upp",
                                     "grans_kvar", "perioder_utan_forbattring", "raknas")}


def _due(client, case_id: str, element_id: str) -> str:
    [task] = [t for t in client.get(f"/cases/{case_id}").json()["open_tasks"] if t["element_id"] == element_id]
    return task["due_at"][:10]


SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the walk is the model's; one database will do


@SQLITE
@pytest.mark.parametrize("table", [README_TABLE, EDITED], ids=["shipped", "edited"])
def test_up_rung_by_rung_at_each_rungs_own_threshold_with_each_rungs_deadline(product, table):
    _deploy(product, table)
    today = product.clock.now().date()
    with product.client("mats", "mentor", units=(SKOLA,)) as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-upp")["id"]
        rung = 0
        while rung < 5:
            row = table[rung]
            below = min(row["grans_upp"], row["grans_kvar"]) - 1  # under the rung's own thresholds: never counts
            report(mentor, case_id, below)
            assert steg(mentor, case_id) == rung, f"{below} % is under rung {rung}'s {row['grans_upp']} %"
            for _ in range(row["perioder_upp"]):
                assert steg(mentor, case_id) == rung, f"rung {rung} needs {row['perioder_upp']} periods"
                report(mentor, case_id, row["grans_upp"])
            rung = row["steg_upp"]
            assert steg(mentor, case_id) == rung
            expected = SchoolCalendar().add_school_days(today, row["frist_upp_skoldagar"]).isoformat()
            if rung < 5:
                assert _due(mentor, case_id, RUNG_TASK[rung]) == expected, f"rung {rung}'s task deadline"
        assert "samtycke" in open_elements(mentor, case_id), "rung 5: samverkan asks for consent"


@SQLITE
@pytest.mark.parametrize("table", [README_TABLE, EDITED], ids=["shipped", "edited"])
def test_no_improvement_climbs_each_rung_and_good_periods_step_down_one_rung_at_a_time(product, table):
    _deploy(product, table)
    with product.client("mats", "mentor", units=(SKOLA,)) as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-kvar")["id"]
        report(mentor, case_id, table[0]["grans_upp"])
        rung = 2
        while rung < 5:  # rungs 2–4: still at the rung's "no improvement" level, under its own threshold
            row = table[rung]
            for _ in range(row["perioder_utan_forbattring"] - 1):
                report(mentor, case_id, row["grans_kvar"])
                assert steg(mentor, case_id) == rung
            report(mentor, case_id, row["grans_kvar"])
            rung = row["steg_upp"]
            assert steg(mentor, case_id) == rung, \
                f"no improvement for {row['perioder_utan_forbattring']} periods: {_counters(mentor, case_id)}"
        told = 0
        while rung > 0:  # down: the row's periods under its threshold, counted again after every step
            row = table[rung]
            for _ in range(row["perioder_ner"] - 1):
                report(mentor, case_id, row["grans_ner"] - 1)
                assert steg(mentor, case_id) == rung
            report(mentor, case_id, row["grans_ner"] - 1)
            rung, told = row["steg_ner"], told + 1
            assert steg(mentor, case_id) == rung
            assert open_elements(mentor, case_id).count("steg_sankt") == told, "the mentor is told of each step down"
        for _ in range(table[0]["perioder_avsluta"] - 1):
            report(mentor, case_id, 0)
        assert mentor.get(f"/cases/{case_id}").json()["status"] == "open"
        report(mentor, case_id, 0)
        assert mentor.get(f"/cases/{case_id}").json()["status"] == "completed"


@SQLITE
def test_repeated_short_unexcused_absence_follows_the_tables_count(product):
    _deploy(product, EDITED)
    with product.client("mats", "mentor", units=(SKOLA,)) as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ogiltig")["id"]
        for _ in range(EDITED[0]["ogiltiga_perioder_upp"] - 1):
            report(mentor, case_id, 2, ogiltig=True)
            assert steg(mentor, case_id) == 1, "rung 1: the guardian is told the same day"
        report(mentor, case_id, 2, ogiltig=True)
        assert steg(mentor, case_id) == 2


@SQLITE
def test_weeks_without_school_days_are_no_periods(product):
    """Periods follow the school calendar: a week of sportlov or summer neither counts up nor down."""
    with product.client("mats", "mentor", units=(SKOLA,)) as mentor:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-lov")["id"]
        report(mentor, case_id, 12)
        assert steg(mentor, case_id) == 2
        sportlov, summer = ("2026-02-16", "2026-02-22"), ("2026-07-06", "2026-07-12")
        assert SchoolCalendar().school_days(date(2026, 2, 16), date(2026, 2, 22)) == 0
        for start, end in (sportlov, summer):
            report(mentor, case_id, 0, period_start=start, period_slut=end)
            assert steg(mentor, case_id) == 2, f"{start}–{end} has no school days: no good period"
        assert mentor.get(f"/cases/{case_id}").json()["data"]["perioder"] == 1
        report(mentor, case_id, 0, period_start="2026-02-23", period_slut="2026-03-01")
        report(mentor, case_id, 0, period_start="2026-03-02", period_slut="2026-03-08")
        assert steg(mentor, case_id) == 1, "two school weeks under 5 %"
