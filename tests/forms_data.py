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


# Values for the one string pattern the forms use; a new pattern needs its example here.
PATTERN_EXAMPLES = {"^([01][0-9]|2[0-3]):[0-5][0-9]$": "09:30"}


def filled(schema: dict, registry, name: str = "svar", _count: list | None = None):
    """A filled-in example of a form: every property given, `$ref`s followed through `registry` (so a broken one
    raises), the last choice of each enum, distinct texts (so "all different" rules hold)."""
    count = _count if _count is not None else [0]
    if "$ref" in schema:
        return filled(registry.resolver().lookup(schema["$ref"]).contents, registry, name, count)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema.get("type")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        return {key: filled(sub, registry, key, count) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        size = min(max(1, schema.get("minItems", 1)), schema.get("maxItems", 100))
        return [filled(schema.get("items", {}), registry, name, count) for _ in range(size)]
    if kind in ("integer", "number"):
        return min(max(schema.get("minimum", 1), 1), schema.get("maximum", 1_000_000))
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return "2026-01-20"
    if "pattern" in schema:
        return PATTERN_EXAMPLES[schema["pattern"]]
    count[0] += 1
    return f"{name.replace('_', ' ').capitalize()} {count[0]}"[:schema.get("maxLength", 4000)]
