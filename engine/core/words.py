"""The Swedish words users read for the slugs the API and the models use (`halso_sjukvard`)."""
from __future__ import annotations

from datetime import datetime

from engine.core.calendar import STOCKHOLM
from engine.core.clock import as_utc

AGENCIES = {
    "skola": "skola och elevhälsa", "socialtjanst": "socialtjänst", "halso_sjukvard": "hälso- och sjukvård",
    "fritid": "fritid", "polis": "polis", "familj": "familjen", "annan": "annan aktör",
}
WORDS = {
    **AGENCIES,
    "kommunen": "kommunen", "regionen": "regionen",
    "vardnadshavare": "vårdnadshavare", "foralder": "förälder", "larare": "lärare", "sjalv": "barnet självt",
    "normal": "normal", "gransvarde": "gränsvärde", "avvikande": "avvikande",
    "hanvisat": "hänvisat", "utan_samtycke": "avslutat utan samtycke", "avslutat": "avslutat",
    "myndighetsutovning": "myndighetsutövning", "aterkallat_samtycke": "återkallat samtycke", "avbojt": "avböjt",
    "besok": "besök", "telefon": "telefon", "mote": "möte", "annat": "annat",
    "hlt": "HLT", "vastbas": "Västbas", "skolfranvaro": "Skolfrånvarotrappan",
}


def word(value) -> str:
    """The Swedish word for a slug, or the value itself when it is not one."""
    return WORDS.get(value, value) if isinstance(value, str) else ("" if value is None else str(value))


def agency(value) -> str:
    """`halso_sjukvard` → `hälso- och sjukvård`."""
    return AGENCIES.get(value, word(value)) if isinstance(value, str) else word(value)


def local_time(value) -> str:
    """A stored moment (UTC) as Swedish local time, `2026-01-19 23:59`; a plain date stays as it is."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime) or (isinstance(value, str) and "T" not in value):
        return str(value)
    return f"{as_utc(moment).astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"
