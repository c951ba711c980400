"""A year of cases on the engine's virtual clock, generated in-process through the engine's own services.

Every step goes through CaseService/TaskService and the timer worker exactly as requests and `samverka
worker` would (the same code the simulation runs), only without HTTP: a few hundred cases in seconds.
Each generator returns what it generated (the dates it chose), so a test computes the expected figures
from those, independently of the report facts.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from engine.access.identity import Principal
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework import deployments
from engine.casework.cases import CaseService
from engine.casework.simulation import SIMULATOR
from engine.casework.tasks import TaskService
from engine.casework.worker import Worker
from engine.core.calendar import STOCKHOLM
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory
from engine.core.models import UserTask
from forms_data import person

ROOT = Path(__file__).resolve().parent.parent
SCHOOLS = ("Skolan i Höör", "Norra skolan", "Södra skolan")
REFERRALS = ("Familjecentralen", "BUP", "Ungdomsmottagningen", "Barnhälsovården")


def morning(day: date, hour: int = 9) -> datetime:
    """`hour` o'clock Swedish time on `day`."""
    return datetime.combine(day, time(hour), STOCKHOLM).astimezone(timezone.utc)


class Engine:
    """The engine's services on one database and a virtual clock, with the product's models deployed."""

    def __init__(self, url: str, start: datetime):
        self.clock = ManualClock(start)
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.runner, self.specs = Runner(self.clock), SpecCache()
        self.worker = Worker(self.sessions, self.clock, self.runner, self.specs)
        with self.sessions() as session:
            owner = Principal("agda", roles=frozenset({deployments.DEPLOYER_ROLE}))
            deployments.deploy(session, self.clock, owner, deployments.bundle_files(ROOT / "processes"),
                               defaults=ROOT / "forms")
            session.commit()

    def at(self, moment: datetime) -> None:
        """Let time pass to `moment`, firing every timer that falls due on the way (in order)."""
        if moment > self.clock.now():
            self.clock.set(moment)
        self.worker.run_until_idle()

    def cases(self, session) -> CaseService:
        return CaseService(session, self.clock, self.runner, self.specs)

    def start(self, process_key: str, data: dict | None = None, unit: str | None = None) -> str:
        with self.sessions() as session:
            case = self.cases(session).start(SIMULATOR, process_key, data or {}, unit=unit)
            session.commit()
            return case.id

    def complete(self, case_id: str, element_id: str, data: dict) -> None:
        with self.sessions() as session:
            task = session.scalar(select(UserTask).where(UserTask.case_id == case_id, UserTask.state == "open",
                                                         UserTask.element_id == element_id))
            assert task is not None, f"{element_id} is not open in {case_id}"
            TaskService(self.cases(session), ROOT / "forms").complete(SIMULATOR, task.id, data)
            session.commit()

    def open_elements(self, case_id: str) -> set[str]:
        with self.sessions() as session:
            return set(session.scalars(select(UserTask.element_id).where(UserTask.case_id == case_id,
                                                                         UserTask.state == "open")))

    def message(self, case_id: str, name: str, data: dict) -> dict:
        """Deliver a message; the case's data and status after it."""
        with self.sessions() as session:
            case = self.cases(session).deliver(SIMULATOR, case_id, name, data, authorized=True)
            session.commit()
            return {"data": dict(case.data), "status": case.status}

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class HltCase:
    school: str
    raised: date
    akut: bool = False
    taken_up: bool = True
    referral: str | None = None
    contact: date | None = None
    consent: bool = True
    sip: date | None = None  # None: never drawn up
    withdrawn: date | None = None
    id: str = ""
    steps: list = field(default_factory=list)  # (moment, element or message, data)


def plan_hlt_year(count: int, year: int = 2026, seed: int = 15) -> list[HltCase]:
    """`count` HLT cases raised over `year` at three schools: some acute, some not taken up (referred), some
    contacted late, some declining consent, SIPs late or never drawn up, some consents withdrawn later."""
    rng, cases = random.Random(seed), []
    first, days = date(year, 1, 5), 320
    for n in range(count):
        raised = first + timedelta(days=rng.randrange(days))
        case = HltCase(SCHOOLS[n % 3], raised, akut=rng.random() < 0.12)
        if rng.random() < 0.08:
            case.taken_up, case.referral = False, rng.choice(REFERRALS[:2] if rng.random() < 0.8 else REFERRALS)
            cases.append(case)
            continue
        late = rng.random() < (0.3 if n % 3 == 2 else 0.15)  # the third school is later more often
        delay = (rng.randint(1, 3) if late else 0) if case.akut else (rng.randint(8, 14) if late else rng.randint(0, 7))
        case.contact = raised + timedelta(days=delay)
        if rng.random() < 0.07:
            case.consent = False
        elif rng.random() > 0.04:
            case.sip = raised + timedelta(days=rng.randint(31, 50) if rng.random() < 0.25 else rng.randint(8, 30))
            if rng.random() < 0.06:
                case.withdrawn = max(case.sip, case.contact) + timedelta(days=5)
        cases.append(case)
    return cases


def _hlt_steps(case: HltCase) -> list[tuple[datetime, str, dict]]:
    lisa = person("lisa", "skola", "larare")
    steps = [(morning(case.raised, 8), "aktualisering", {
        "aktualiserad_av": lisa, "akut": case.akut, "behov": "Oro", "tas_upp": case.taken_up,
        **({"hanvisning": case.referral} if not case.taken_up else {})})]
    if not case.taken_up:
        return steps
    steps.append((morning(case.contact, 10), "kontakta_familjen", {
        "kontakt": {"datum": case.contact.isoformat(), "av": lisa, "hur": "telefon"}}))
    # a family that declines does so after the first contact (declining closes the case)
    consent_on = case.raised + timedelta(days=1) if case.consent else max(case.raised + timedelta(days=1), case.contact)
    consent_day = morning(consent_on, 11)
    steps.append((consent_day, "samtycke", {"samtycke": {
        "lamnat": case.consent, "givet_av": [{"namn": "Vera", "relation": "vardnadshavare"}],
        "datum": consent_on.isoformat(), "omfattning": ["skola", "socialtjanst", "halso_sjukvard"],
        "barnets_alder": 11, "barnets_asikt": "Vill ha hjälp"}}))
    if not case.consent:
        steps.append((consent_day + timedelta(minutes=5), "registrera_hanvisning", {"hanvisning": "Elevhälsan"}))
        return steps
    sam = {"namn": "Sam", "anvandare": "sam", "verksamhet": "socialtjanst"}
    steps.append((consent_day + timedelta(minutes=5), "sammankallande",
                  {"traffar_familjen": [sam], "samordnare": sam}))
    if case.sip is not None:
        steps.append((morning(case.sip, 13), "upprata_sip", {"sip": {
            "datum": case.sip.isoformat(), "deltagare": [sam], "huvudansvar": "kommunen",
            "insatser": [{"insats": "Samtalsstöd", "verksamhet": "halso_sjukvard", "ansvarig": "Hanna",
                          "start": case.sip.isoformat()}],
            "uppfoljning_datum": (case.sip + timedelta(days=90)).isoformat()}}))
    if case.withdrawn is not None:
        steps.append((morning(case.withdrawn, 14), "message:samtycke_aterkallat", {"av": "Vera"}))
    return steps


def run_hlt_year(engine: Engine, cases: list[HltCase], until: datetime) -> None:
    """Start each case on its day and take its steps in time order across all cases, timers firing between."""
    events = []
    for index, case in enumerate(cases):
        events.append((morning(case.raised, 7), index, "start", {}))
        events += [(moment, index, what, data) for moment, what, data in _hlt_steps(case)]
    for moment, index, what, data in sorted(events, key=lambda e: (e[0], e[1])):
        engine.at(moment)
        case = cases[index]
        if what == "start":
            case.id = engine.start("hlt", unit=case.school)
        elif what.startswith("message:"):
            engine.message(case.id, what.removeprefix("message:"), data)
        else:
            engine.complete(case.id, what, data)
    engine.at(until)


@dataclass
class VastbasCase:
    school: str
    plan: date  # the handlingsplan (nätverksmöte 2): the evaluation is due six months later
    evaluated: date  # when the evaluation was held
    id: str = ""

    @property
    def due(self) -> date:
        month = self.plan.month + 6
        return self.plan.replace(year=self.plan.year + (month - 1) // 12, month=(month - 1) % 12 + 1)


def plan_vastbas_year(count: int, seed: int = 10) -> list[VastbasCase]:
    """`count` Västbas cases with plans over the spring, evaluated early, on the day or late."""
    rng, cases = random.Random(seed), []
    for n in range(count):
        plan = date(2026, 1, 12) + timedelta(days=rng.randrange(120))
        case = VastbasCase(SCHOOLS[n % 3], plan, plan)
        case.evaluated = case.due + timedelta(days=rng.choice((-10, -1, 0, 3, 20)))
        cases.append(case)
    return cases


def _vastbas_plan_steps(case: VastbasCase) -> list[tuple[str, dict]]:
    mote = {"datum": case.plan.isoformat(), "tid": "15:00", "plats": "Skolan"}
    return [
        ("nytt_arende", {"barnets_namn": "Elsa", "inkommit_fran": "skola", "beskrivning": "Oro",
                         "kan_natverk_gagna": "Ja", "handlaggare": person("hans", "socialtjanst")}),
        ("samtycke", {"samtycke": {"lamnat": True, "givet_av": [{"namn": "Vera", "relation": "vardnadshavare"}],
                                   "datum": case.plan.isoformat(), "omfattning": ["skola", "socialtjanst"],
                                   "barnets_alder": 10, "barnets_asikt": "Vill ha hjälp"}}),
        ("bedomning", {"vastbasarende": True, "koordinator1": person("kim"), "koordinator2": person("klara")}),
        ("erbjudande", {"familjen_tackar_ja": True, "barnets_rost": "Vill ha lugn"}),
        ("formote", {"problemanalys": "Frånvaro", "syfte": "Tillbaka till skolan",
                     "natverkskarta": [{"namn": "Moster Maja", "relation": "släkt"}],
                     "sprakror": {"namn": "Moster Maja", "relation": "släkt", "anvandare": "maja"},
                     "gastlista": [{"namn": "Lisa", "roll": "mentor", "verksamhet": "skola"}], "natverksmote_1": mote}),
        ("barnets_rost", {"barnets_rost": "Vill ha en vuxen att prata med"}),
        ("natverksmote_1", {"behovsanalys": "Trygghet", "hemuppgifter": [{"vem": "Maja", "bidrag": "Läxhjälp"}],
                            "natverksmote_2": mote}),
        ("natverksmote_2", {"handlingsplan": {"mal": ["Närvaro"], "uppfoljning_datum": (
            case.plan + timedelta(days=30)).isoformat(), "insatser": [{"insats": "Samtal", "verksamhet": "skola",
                                                                       "ansvarig": "Karin",
                                                                       "start": case.plan.isoformat()}]},
                            "kontaktperson": person("karin"), "kartlaggning_klar": True}),
        ("insatser_paborjas", {"paborjade": case.plan.isoformat()}),
        ("eht_genomgang", {"eht_datum": case.plan.isoformat(), "eht_bedomning": "Enligt plan"}),
        ("uppfoljning", {"resultat": "utvardering", "uppfoljning": "Bättre"}),
    ]


def run_vastbas_year(engine: Engine, cases: list[VastbasCase], until: datetime) -> None:
    """Each case to its plan in one day, then its evaluation on the day chosen; timers fire in between."""
    events = [(morning(c.plan, 8), i, "plan") for i, c in enumerate(cases)]
    events += [(morning(c.evaluated, 10), i, "evaluate") for i, c in enumerate(cases)]
    for moment, index, what in sorted(events):
        engine.at(moment)
        case = cases[index]
        if what == "plan":
            case.id = engine.start("vastbas", unit=case.school)
            for element, data in _vastbas_plan_steps(case):
                engine.complete(case.id, element, data)
        else:
            engine.complete(case.id, "utvardering", {"avsluta": True, "utvardering": "Utvärderat"})
    engine.at(until)
