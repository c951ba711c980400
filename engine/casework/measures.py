"""The measures the steering group asks for, each defined once: what it counts, from which facts, its goal.

A measure reads the report facts (`engine.casework.report_facts`) that the steps' history gives; the
definition text is what the report prints beside the figures, so a reader knows exactly what was
counted. Kinds:

- `share`: facts with outcome `met` or `missed`; the share met, against the goal.
- `count`: how many facts (optionally split by their detail, outcome or value).
- `duration`: the days a fact carries; median and 90th percentile.
- `open_share`: cases open at the end of each period; the share with a fact in the window before it.
- `rungs`: cases open at the end of each period, by the rung their latest fact gives.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    key: str
    process: str | None  # None: every process
    name: str
    definition: str
    kind: str  # share | count | duration | open_share | rungs
    fact: str
    details: frozenset[str] | None = None  # only facts with one of these details
    split: str | None = None  # detail | outcome | value: one row per distinct one
    goal: float | None = None  # the share aimed at (share kinds)
    window_months: int = 0  # open_share: how far back the fact may lie


ALL = (
    Measure("frister", None, "Frister hållna",
            "Varje frist på en uppgift (dess förfallotid): hållen om uppgiften blev klar senast då, missad om den "
            "blev klar senare eller fristen passerade innan. Räknas på fristens dag, per uppgift.",
            "share", "deadline", split="detail", goal=0.9),
    Measure("oppnade", None, "Öppnade ärenden", "Ärenden som startade under perioden.", "count", "opened"),
    Measure("avslutade", None, "Avslutade ärenden per utfall",
            "Ärenden som avslutades under perioden, per utfall (processens utfall, annars avslutat/avbrutet).",
            "count", "closed", split="outcome"),
    Measure("incidenter", None, "Incidenter",
            "Steg som inte kunde köras och stoppade ärendet (en incident), per element, under perioden.",
            "count", "incident", split="detail"),
    Measure("hlt_kontakt_7_dagar", "hlt", "Kontakt inom 7 dagar (akut: samma dag)",
            "Andel barn som fick kontakt med någon av aktörerna inom 7 dagar från aktualiseringen (akut behov: "
            "samma dag), av de barn vars kontakt är registrerad eller vars frist har passerat. Kontaktdagen är den "
            "som registrerades i «Första kontakt med familjen»; räknas på aktualiseringsdagen.",
            "share", "hlt_kontakt", goal=0.9),
    Measure("hlt_sip_30_dagar", "hlt", "SIP inom 30 dagar",
            "Andel SIP som upprättades inom 30 dagar från aktualiseringen (SIP-mötets datum), av de ärenden där "
            "SIP upprättats eller 30 dagar har passerat utan SIP. Ärenden utan samtycke, där ingen SIP får "
            "upprättas, räknas inte. Räknas på aktualiseringsdagen.",
            "share", "hlt_sip", goal=0.9),
    Measure("hlt_dagar_till_sip", "hlt", "Dagar från aktualisering till SIP",
            "Dagar från aktualiseringen till SIP-mötets datum, för de SIP som upprättats; median och 90:e "
            "percentil. Räknas på aktualiseringsdagen.", "duration", "hlt_sip"),
    Measure("hlt_sdq_6_manader", "hlt", "Öppna ärenden med SDQ senaste 6 månaderna",
            "Andel av de ärenden som var öppna vid periodens slut som hade en SDQ (bedömning, uppföljning eller "
            "avslut) daterad inom de 6 månader som slutar då.", "open_share", "hlt_sdq", goal=0.9,
            window_months=6),
    Measure("hlt_ej_upptagna", "hlt", "Ej upptagna i HLT-mötet, per hänvisning",
            "Barn som aktualiserades men inte togs upp, per vart familjen hänvisades (hänvisningens första ord; "
            "hänvisningar som förekommer färre gånger än tröskeln samlas under «övrigt»).",
            "count", "hlt_ej_upptagen", split="outcome"),
    Measure("hlt_samtycke", "hlt", "Samtycke: lämnat, nekat, återkallat",
            "Samtyckessteg under perioden: samtycke lämnat, nekat (ärendet får inte diskuteras) och återkallat.",
            "count", "hlt_samtycke", split="outcome"),
    Measure("vb_dagar_per_steg", "vastbas", "Dagar per steg",
            "Dagar från att stegets uppgift öppnades till att den blev klar, per steg; median och 90:e "
            "percentil. Räknas på dagen steget blev klart.", "duration", "step_days", split="detail"),
    Measure("vb_spiralvarv", "vastbas", "Varv i spiralen",
            "Gånger uppföljningen ledde till nya insatser (steg 9) under perioden.", "count", "vb_spiral"),
    Measure("vb_utvardering_i_tid", "vastbas", "Utvärderingar i tid",
            "Andel utvärderingar (steg 10) som hölls senast på sitt datum (sex månader efter planen), av dem "
            "som hållits eller vars datum passerat. Räknas på utvärderingens datum.",
            "share", "deadline", details=frozenset({"utvardering"}), goal=0.9),
    Measure("lf_elever_per_steg", "skolfranvaro", "Elever per steg",
            "Elever med ett öppet ärende vid periodens slut, per det steg i trappan de stod på då.",
            "rungs", "lf_steg"),
    Measure("lf_dagar_till_mentor", "skolfranvaro", "Dagar till mentorns uppföljning",
            "Dagar från den första gränsen (steg 2 nåtts) till att mentorns uppföljning var klar; median och "
            "90:e percentil. Räknas på dagen uppföljningen blev klar.", "duration", "lf_mentor"),
    Measure("lf_dagar_till_utredning", "skolfranvaro", "Dagar till rektors utredning",
            "Dagar från den första gränsen (steg 2 nåtts) till att rektors utredning var klar; median och 90:e "
            "percentil. Räknas på dagen utredningen blev klar.", "duration", "lf_utredning"),
    Measure("lf_informerad_samma_dag", "skolfranvaro", "Vårdnadshavare informerade samma dag",
            "Andel ogiltiga frånvarotillfällen där vårdnadshavaren informerades samma dag (registrerat datum), "
            "räknat på frånvarodagen.", "share", "lf_informerad", goal=0.9),
    Measure("lf_orosanmalningar", "skolfranvaro", "Orosanmälningar",
            "Orosanmälningar gjorda från trappan under perioden.", "count", "lf_orosanmalan"),
    Measure("lf_nedtrappning", "skolfranvaro", "Elever som gått ner i trappan, per antal steg",
            "Gånger ett ärende gick ner i trappan under perioden, per hur många steg.", "count", "lf_nedtrappning",
            split="value"),
)

BY_KEY = {m.key: m for m in ALL}


def of_process(process_key: str) -> list[Measure]:
    """The measures a process is reported on: its own, then those of every process."""
    return [m for m in ALL if m.process == process_key] + [m for m in ALL if m.process is None]
