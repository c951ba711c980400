"""Where a request's work runs (api.deps): a step begins on the event loop, and one that would wait on a row lock
gives up there after step_lock_wait_ms, starts over and waits in a worker thread; a sign-in that must write the
directory waits in its own thread too. So the server answers everyone else meanwhile, and what the loop began is
rolled back."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from factories import start_case
from test_hlt import HLT_MOTET
from test_races import AKTUALISERING, CASE_LOCK, holding, wait_for_waiters, waiting_as

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
PERSON_LOCK = "SELECT id FROM person WHERE subject = :subject FOR UPDATE"


def test_a_completion_waiting_on_its_case_leaves_the_server_answering_others(product, db_url):
    with product.client("hugo", *HLT_MOTET) as hugo, product.client("hilda", *HLT_MOTET) as hilda:
        held, other = start_case(hugo, "hlt"), start_case(hilda, "hlt")
        task_id = held["open_tasks"][0]["id"]
        with ThreadPoolExecutor(1) as pool, holding(db_url, CASE_LOCK, case_id=held["id"]) as lock:
            waiting = pool.submit(hugo.post, f"/tasks/{task_id}/complete", json={"data": AKTUALISERING})
            wait_for_waiters(lock, 1)
            # It began on the event loop's connections, gave up after step_lock_wait_ms and waits in a thread.
            assert waiting_as(lock) == ["samverka"]
            meanwhile = hilda.get(f"/cases/{other['id']}")
            assert meanwhile.status_code == 200, meanwhile.text
            assert not waiting.done(), "the completion waits on its case until the lock is let go"
        done = waiting.result()
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "completed"
        history = hugo.get(f"/cases/{held['id']}/history").json()["items"]
        assert [h["event"] for h in history].count("task_completed") == 1, "what the loop began was rolled back"
        assert [t["element_id"] for t in done.json()["open_tasks"]] == \
            [t["element_id"] for t in hugo.get(f"/cases/{held['id']}").json()["open_tasks"]]


def test_a_sign_in_that_must_update_the_directory_waits_in_its_own_thread(product, db_url):
    with product.client("hugo", *HLT_MOTET) as hugo, product.client("hilda", *HLT_MOTET) as hilda:
        assert hugo.get("/me").status_code == 200 and hilda.get("/me").status_code == 200  # both known
        with product.client("hugo", *HLT_MOTET, units=("norra",)) as moved, ThreadPoolExecutor(1) as pool, \
                holding(db_url, PERSON_LOCK, subject="hugo") as lock:
            # New claims (a unit) make the directory row change: that UPDATE waits on the lock held here.
            waiting = pool.submit(moved.get, "/me")
            wait_for_waiters(lock, 1)
            meanwhile = hilda.get("/me")
            assert meanwhile.status_code == 200, meanwhile.text
            assert not waiting.done()
        signed_in = waiting.result()
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["units"] == ["norra"]
