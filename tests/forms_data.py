"""Plain factories for the product's form data: what caseworkers type in, valid unless told otherwise."""
from __future__ import annotations


def person(anvandare: str, verksamhet: str = "skola", befattning: str = "kurator", namn: str | None = None) -> dict:
    return {"namn": namn or anvandare.capitalize(), "anvandare": anvandare, "verksamhet": verksamhet,
            "befattning": befattning}


def samtycke(lamnat: bool = True, alder: int = 10, **extra) -> dict:
    value = {"lamnat": lamnat, "givet_av": [{"namn": "Vera Vårdnadshavare", "relation": "vardnadshavare"}],
             "datum": "2026-01-13", "omfattning": ["skola", "socialtjanst", "halso_sjukvard"],
             "barnets_alder": alder, "barnets_asikt": "Vill ha hjälp med skolan."}
    return {"samtycke": {**value, **extra}}


def sdq(informant: str = "foralder", svar: list[int] | None = None) -> dict:
    return {"informant": informant, "datum": "2026-01-20", "svar": svar or [1] * 25}


def skattning(*values: float, alder: int = 14) -> dict:
    return {"datum": "2026-02-01", "alder": alder, "skattningar": list(values or (6, 6, 6, 6))}


def sip() -> dict:
    return {"sip": {"datum": "2026-01-30", "deltagare": [person("sara", "socialtjanst", "socialsekreterare")],
                    "insatser": [{"insats": "Samtalsstöd", "verksamhet": "halso_sjukvard", "ansvarig": "Hanna",
                                  "start": "2026-02-01"},
                                 {"insats": "Anpassad studiegång", "verksamhet": "skola", "ansvarig": "Rektor Rut",
                                  "start": "2026-02-01", "slut": "2026-06-10"}],
                    "atgarder_av_andra": [{"aktor": "Försäkringskassan", "atgard": "Utreda omvårdnadsbidrag"}],
                    "huvudansvar": "kommunen", "huvudansvarig_person": "Sara Socialsekreterare",
                    "uppfoljning_datum": "2026-04-30", "barnets_asikt": "Vill gå i skolan igen."}}


def eskalering() -> dict:
    return {"eskalering": {"atgard": "Extra SIP-möte bokat", "ny_malsattning": "2026-02-20"}}
