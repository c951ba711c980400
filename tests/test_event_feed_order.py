"""The event feed under concurrent writers: a consumer following its cursor never skips an event."""
from __future__ import annotations

import threading

from conftest import ROOT

from engine.access.identity import Principal
from engine.casework.cases import CaseService

SAGA = Principal(user="saga", agency="skola", roles=frozenset({"samordnare"}))


def follow(consumer, cursor: str, seen: list[str]) -> str:
    """Read the feed from `cursor` to its end, appending event ids to `seen`; the new cursor."""
    while True:
        page = consumer.get("/events", params={"after": cursor, "limit": 1000}).json()
        seen += [e["id"] for e in page["items"]]
        if page["next_cursor"] == cursor:
            return cursor
        cursor = page["next_cursor"]


def test_a_transaction_that_commits_late_is_not_skipped_by_a_consumer_that_read_past_it(product):
    state = product.app.state
    with product.client("hugo", "hlt_motet") as hugo, product.client("nils", "integrator") as consumer:
        seen: list[str] = []
        cursor = follow(consumer, "0", seen)
        # A transaction that writes its events first and commits last. It starts a Västbas case: the later HLT
        # starts count in another case-number series (issue 14), so they do not queue on its counter row.
        held = state.session_factory()
        CaseService(held, state.clock, state.runner, state.specs, forms_dir=ROOT / "forms").start(SAGA, "vastbas", {})
        held.flush()
        later = threading.Thread(target=lambda: [hugo.post("/cases", json={"process_key": "hlt"})
                                                 for _ in range(3)])
        later.start()  # PostgreSQL: commits past the held one; SQLite: waits for it (one writer at a time)
        later.join(2)
        cursor = follow(consumer, cursor, seen)  # on PostgreSQL this reads past the held events' insert numbers
        held.commit()
        held.close()
        later.join(60)
        follow(consumer, cursor, seen)
        everything: list[str] = []
        follow(consumer, "0", everything)
    assert len(everything) == len(set(everything)) == 4 * 2  # four cases started: case.started, task.created
    assert seen == everything, "the follower saw every event once, in the feed's own order"
