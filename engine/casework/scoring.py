"""Scores computed from standard instruments when a form is completed: SDQ and ORS/SRS.

Only the item structure and the scoring are here; the licensed question wording is
supplied by the deploying organisation (in the form's UI schema). Cut-offs are settings:
Swedish norms differ from the UK bands used as defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# SDQ items are numbered 1-25 in the instrument's standard order.
SDQ_SUBSCALES = {
    "emotionella_symtom": (3, 8, 13, 16, 24),
    "beteendeproblem": (5, 7, 12, 18, 22),
    "hyperaktivitet": (2, 10, 15, 21, 25),
    "kamratproblem": (6, 11, 14, 19, 23),
    "prosocialt_beteende": (1, 4, 9, 17, 20),
}
SDQ_REVERSED = frozenset({7, 11, 14, 21, 25})  # positively worded items: scored 2 - answer
DIFFICULTIES = ("emotionella_symtom", "beteendeproblem", "hyperaktivitet", "kamratproblem")


@dataclass(frozen=True)
class ScoringSettings:
    """Cut-offs: total difficulties from which a result is 'gränsvärde' and 'avvikande', per informant."""

    sdq_cutoffs: dict = field(default_factory=lambda: {"foralder": (14, 17), "larare": (12, 16), "sjalv": (16, 20)})
    ors_clinical_cutoff_adult: int = 25
    ors_clinical_cutoff_youth: int = 28  # 13-17 years
    srs_alliance_flag_at_or_below: int = 36


def sdq(answers: dict, settings: ScoringSettings) -> dict:
    """Subscales (0-10), total difficulties (0-40) and band for an SDQ form's `svar` (items 1-25, 0-2)."""
    items = answers["svar"]
    score = {n: (2 - items[n - 1]) if n in SDQ_REVERSED else items[n - 1] for n in range(1, 26)}
    subscales = {name: sum(score[n] for n in numbers) for name, numbers in SDQ_SUBSCALES.items()}
    total = sum(subscales[name] for name in DIFFICULTIES)
    borderline, abnormal = settings.sdq_cutoffs[answers["informant"]]
    band = "avvikande" if total >= abnormal else "gransvarde" if total >= borderline else "normal"
    return {"informant": answers["informant"], "delskalor": subscales, "total_svarigheter": total, "niva": band}


def ors(answers: dict, settings: ScoringSettings) -> dict:
    """ORS total (0-40) and whether it is under the clinical cut-off for the person's age group."""
    total = round(sum(answers["skattningar"]), 1)
    cutoff = settings.ors_clinical_cutoff_youth if answers.get("alder", 18) < 18 else settings.ors_clinical_cutoff_adult
    return {"total": total, "klinisk_grans": cutoff, "under_klinisk_grans": total < cutoff}


def srs(answers: dict, settings: ScoringSettings) -> dict:
    """SRS total (0-40) and the alliance flag (total at or below the setting)."""
    total = round(sum(answers["skattningar"]), 1)
    return {"total": total, "alliansvarning": total <= settings.srs_alliance_flag_at_or_below}


INSTRUMENTS = {"sdq": sdq, "ors": ors, "srs": srs}
