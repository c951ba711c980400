"""Property: over open cases of several processes and schools, every delivery reaches exactly the cases its keys
select (one, or all with `all: true` and the scope), never another; checked against the event feed."""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import SKOLA

P1, P2, UNKNOWN = "201501012387", "191212121212", "200001012384"
OTHER_SCHOOL = "Tyrings skola"
REPORT = {"period_start": "2026-01-12", "period_slut": "2026-01-18", "franvaro_procent": 7,
          "ogiltig_franvaro": False}  # between the thresholds: the ladder stays where it is, still waiting
# The senders: what each may reach (messages:PROCESS) and ask for all of (messages-all:PROCESS).
SENDERS = {"skolans system": ("messages:skolfranvaro", "messages-all:skolfranvaro"),
           "enbart stegen": ("messages:skolfranvaro",),
           "kommunens system": ("messages:*", "messages-all:hlt", "messages-all:vastbas")}
# Which processes know each message, and which of them wait for it in the cases made here: the ladder
# knows the withdrawal of consent only inside samverkan, which none of these cases has reached.
MESSAGES = {"franvarorapport": ({"skolfranvaro"}, {"skolfranvaro"}),
            "samtycke_aterkallat": ({"skolfranvaro", "hlt", "vastbas"}, {"hlt", "vastbas"})}
DATA = {"franvarorapport": REPORT, "samtycke_aterkallat": {"av": "Vera"}}


@dataclass(frozen=True)
class OpenCase:
    id: str
    process: str
    school: str | None
    pupil: str | None
    personnummer: str | None
    barn: str | None


def _open_cases(product) -> list[OpenCase]:
    cases = []
    with product.client("mats", "mentor") as mentor, product.client("hugo", "hlt_motet") as motet, \
            product.client("sam", "samordnare") as samordnare:
        for school, pupil, pnr in ((SKOLA, "1001", P1), (SKOLA, "1002", None), (OTHER_SCHOOL, "1001", None),
                                   (OTHER_SCHOOL, "1003", P2)):
            body = {"process_key": "skolfranvaro", "data": {"skola": school, "elev": pupil}, "barn_personnummer": pnr}
            case = mentor.post("/cases", json=body).json()
            cases.append(OpenCase(case["id"], "skolfranvaro", school, pupil, pnr, case["data"].get("barn")))
        for client, process, pnr in ((motet, "hlt", P1), (samordnare, "vastbas", P2)):
            case = client.post("/cases", json={"process_key": process, "barn_personnummer": pnr}).json()
            cases.append(OpenCase(case["id"], process, None, None, pnr, case["data"]["barn"]))
    return cases


def _correlations(cases: list[OpenCase]):
    ids = [c.id for c in cases] + ["00000000-0000-4000-8000-000000000000"]
    barns = sorted({c.barn for c in cases if c.barn}) + ["ingen-sadan"]
    return st.fixed_dictionaries({}, optional={
        "case_id": st.sampled_from(ids), "personnummer": st.sampled_from([P1, P2, UNKNOWN]),
        "barn": st.sampled_from(barns), "process_key": st.sampled_from(["skolfranvaro", "hlt", "vastbas"]),
        "pupil": st.tuples(st.sampled_from([SKOLA, OTHER_SCHOOL, "Annan skola"]),
                           st.sampled_from(["1001", "1002", "1003", "9999"]))})


def _selects(case: OpenCase, wanted: dict) -> bool:
    school, pupil = wanted.get("pupil", (None, None))
    return all((wanted.get("case_id") in (None, case.id), wanted.get("personnummer") in (None, case.personnummer),
                wanted.get("barn") in (None, case.barn), wanted.get("process_key") in (None, case.process),
                school is None or (case.school == school and case.pupil == pupil)))


def _expected(cases: list[OpenCase], name: str, wanted: dict, scopes: tuple[str, ...],
              to_all: bool) -> tuple[int, set]:
    """(status, cases reached), worked out from the table of cases alone."""
    if not set(wanted) - {"process_key"}:
        return 422, set()
    if to_all and not any(s.startswith("messages-all:") for s in scopes):
        return 403, set()
    area, (knowing, waiting) = "messages-all" if to_all else "messages", MESSAGES[name]
    candidates = [c for c in cases if _selects(c, wanted) and c.process in knowing
                  and {f"{area}:{c.process}", f"{area}:*"} & set(scopes)]
    if len(candidates) > 1 and not to_all:
        return 409, set()
    reached = {c.id for c in candidates if c.process in waiting}
    return (200, reached) if reached else (404, set())


def test_every_delivery_reaches_exactly_the_cases_its_keys_select(product):
    cases = _open_cases(product)
    clients = {name: product.client(name.replace(" ", "-"), "integrator", scopes=scopes)
               for name, scopes in SENDERS.items()}
    feed = product.client("flode", "integrator", scopes=("events",))
    cursor = {"after": feed.get("/events", params={"limit": 1000}).json()["next_cursor"]}

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(name=st.sampled_from(sorted(MESSAGES)), wanted=_correlations(cases), sender=st.sampled_from(sorted(SENDERS)),
           to_all=st.booleans())
    def deliver(name, wanted, sender, to_all):
        correlation = {k: v for k, v in wanted.items() if k != "pupil"}
        if "pupil" in wanted:
            correlation["skola"], correlation["elev"] = wanted["pupil"]
        answer = clients[sender].post("/messages", json={"name": name, "correlation": correlation,
                                                         "data": DATA[name], "all": to_all})
        status, reached = _expected(cases, name, wanted, SENDERS[sender], to_all)
        assert answer.status_code == status, (correlation, sender, to_all, answer.text)
        if status == 200:
            assert set(answer.json()["delivered_to"]) == reached
        page = feed.get("/events", params={"after": cursor["after"], "limit": 1000,
                                           "types": "se.samverka.message.correlated"}).json()
        assert {e["subject"] for e in page["items"]} == reached, "the feed shows who really got it"
        cursor["after"] = page["next_cursor"] or cursor["after"]

    try:
        deliver()
    finally:
        for client in (*clients.values(), feed):
            client.close()
