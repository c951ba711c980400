"""Samtycke as the access rules see it: in force or not, and which agencies it lets share.

Consent comes from the consent step alone: a completed task whose form is `samtycke` (validated:
who gave it, when, for which agencies), or the data of a case the engine starts from another
case that took it. Start data from a client can never carry it (it is checked against the
process's start form). The message `samtycke_aterkallat` withdraws it. The state is kept on the
case, so the request after a withdrawal already sees it.
"""
from __future__ import annotations

from datetime import datetime

CONSENT_KEY = "samtycke"
CONSENT_WITHDRAWN = "samtycke_aterkallat"
CONSENT_FORM = "samtycke"  # forms/samtycke.schema.json


def updated(consent: dict | None, records, now: datetime, consent_steps: frozenset[str]) -> dict | None:
    """The consent state after a step's records; only `consent_steps` (tasks of the consent form) and the
    engine's own start of a case may set it."""
    for record in records:
        from_consent_step = record.event == "case_started" or (
            record.event == "task_completed" and record.element_id in consent_steps)
        given = ((record.data_changes or {}).get("set") or {}).get(CONSENT_KEY) if from_consent_step else None
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
