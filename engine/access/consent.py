"""Samtycke as the access rules see it: in force or not, and which agencies it lets share.

A step that records `samtycke` (the consent form, or the data a linked case starts with) sets
it; the message `samtycke_aterkallat` withdraws it. The state is kept on the case, so the
request after a withdrawal already sees it.
"""
from __future__ import annotations

from datetime import datetime

CONSENT_KEY = "samtycke"
CONSENT_WITHDRAWN = "samtycke_aterkallat"


def updated(consent: dict | None, records, now: datetime) -> dict | None:
    """The consent state after a step's records."""
    for record in records:
        given = ((record.data_changes or {}).get("set") or {}).get(CONSENT_KEY)
        if isinstance(given, dict) and "lamnat" in given:
            agencies = given.get("omfattning") if isinstance(given.get("omfattning"), list) else []
            consent = {"in_force": given["lamnat"] is True, "agencies": sorted(map(str, agencies)),
                       "recorded_at": now.isoformat()}
        if record.event == "message_received" and (record.details or {}).get("message") == CONSENT_WITHDRAWN:
            consent = {**(consent or {"agencies": []}), "in_force": False, "withdrawn_at": now.isoformat()}
    return consent


def sharing_agencies(consent: dict | None) -> frozenset[str]:
    """The agencies that may see each other's data in the case now; empty without consent in force."""
    if not consent or not consent.get("in_force"):
        return frozenset()
    return frozenset(consent.get("agencies") or ())
