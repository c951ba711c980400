"""One step, one request: a completion answers with what is next for the caller, in a bounded number of SQL
statements (issue 19's cut from 16 statements plus a 5-statement list request; 13 with issue 21's directory read)."""
from __future__ import annotations

from factories import complete, deployed, start_case
from sqlalchemy import event


def test_a_completion_answers_with_the_callers_next_tasks(server):
    deployed(server, "loop.bpmn")
    with server.client("kim", "kontaktperson") as kim:
        case = start_case(kim, "uppfoljning")
        answer = complete(kim, case["open_tasks"][0]["id"], fortsatt=True)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["state"] == "completed" and body["completed_by"] == "kim"
        listed = kim.get("/tasks", params={"case_id": case["id"]}).json()["items"]
        assert [t["id"] for t in body["open_tasks"]] == [t["id"] for t in listed]
        assert [t["element_id"] for t in body["open_tasks"]] == ["folj_upp"]
    # Not in the case: a kontaktperson of another unit (issue 21: a lane's unit seat is open to the role's holders
    # at the case's unit, whatever their agency), so no 200 and no tasks.
    with server.client("ola", "kontaktperson", agency="soc", units=("Tyrings skola",)) as stranger:
        assert complete(stranger, body["open_tasks"][0]["id"], fortsatt=True).status_code == 404


def test_a_completion_takes_a_bounded_number_of_statements(server):
    deployed(server, "loop.bpmn")
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    with server.client("kim", "kontaktperson") as kim:
        task_id = start_case(kim, "uppfoljning")["open_tasks"][0]["id"]
        task_id = complete(kim, task_id, fortsatt=True).json()["open_tasks"][0]["id"]  # version row now known
        # On PostgreSQL the step runs on the event loop's own connections (api.deps.Step), on SQLite in a thread.
        engine = server.app.state.loop_db or server.app.state.db
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert complete(kim, task_id, fortsatt=True).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    # the caller's directory row (issue 21: every request reads it — a person deactivated or re-provisioned by SCIM
    # is refused or re-roled on their next request, in any worker, so it cannot be cached); one select of the task,
    # its case, the case's open tasks and timers, the caller's roles in it and whether any webhook subscription is
    # active; then the step's writes (engine.core.appends): the take, the old timer's delete, the case's UPDATE
    # with its version check (the suspension and incident checks of issue 18 read the case already loaded), the
    # next task and timer, its history, events, access-log row and (issue 15) the day count of the task's deadline,
    # met. On PostgreSQL the writes are one statement; on SQLite the take, the delete and the case are one each and
    # the rows one per table. BEGIN and COMMIT aside: 3 on PostgreSQL, 11 on SQLite.
    if server.app.state.db.dialect.name == "postgresql":
        assert len(statements) == 3, statements
        assert "RETURNING 1" in statements[-1] and 'UPDATE "case"' in statements[-1], "one statement writes"
    else:
        assert len(statements) == 11, statements
    assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) == 2, statements
    assert not [s for s in statements if "FROM process_version" in s], "the version row is read once per process"
