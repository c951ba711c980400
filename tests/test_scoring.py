"""SDQ and ORS/SRS scoring: subscales, reverse-scored items, totals and bands from settings."""
from __future__ import annotations

from engine.casework.scoring import SDQ_REVERSED, ScoringSettings, ors, sdq, srs

SETTINGS = ScoringSettings()


def answers(**by_item: int) -> list[int]:
    """25 answers of 0 except the given items (numbered 1-25)."""
    return [by_item.get(f"i{n}", 0) for n in range(1, 26)]


def test_all_zero_answers_score_the_reversed_items_as_difficulties():
    result = sdq({"informant": "foralder", "svar": answers()}, SETTINGS)
    # Items 7, 11, 14, 21 and 25 are positively worded: answering 0 on them scores 2.
    assert result["delskalor"] == {"emotionella_symtom": 0, "beteendeproblem": 2, "hyperaktivitet": 4,
                                    "kamratproblem": 4, "prosocialt_beteende": 0}
    assert result["total_svarigheter"] == 10 and result["niva"] == "normal"
    assert SDQ_REVERSED == {7, 11, 14, 21, 25}


def test_maximum_difficulties_score_forty_and_prosocial_stays_apart():
    worst = [0 if n in SDQ_REVERSED else 2 for n in range(1, 26)]
    result = sdq({"informant": "larare", "svar": worst}, SETTINGS)
    assert result["total_svarigheter"] == 40 and result["delskalor"]["prosocialt_beteende"] == 10
    assert result["niva"] == "avvikande"


def test_bands_follow_the_informants_cutoffs_and_the_settings():
    worried = {"informant": "foralder", "svar": answers(i3=2, i8=2, i13=2, i16=2)}  # emotional 8, plus 10 reversed
    assert sdq(worried, SETTINGS)["total_svarigheter"] == 18
    assert sdq(worried, SETTINGS)["niva"] == "avvikande"  # parent: 17 and up
    assert sdq({**worried, "informant": "sjalv"}, SETTINGS)["niva"] == "gransvarde"  # self: 16-19
    swedish = ScoringSettings(sdq_cutoffs={"foralder": (11, 14), "larare": (9, 12), "sjalv": (14, 17)})
    assert sdq({"informant": "foralder", "svar": answers(i3=1)}, swedish)["niva"] == "gransvarde"


def test_ors_cutoff_depends_on_age_and_srs_flags_a_weak_alliance():
    assert ors({"skattningar": [6, 6, 7, 7], "alder": 15}, SETTINGS) == {
        "total": 26, "klinisk_grans": 28, "under_klinisk_grans": True}
    assert ors({"skattningar": [6, 6, 7, 7], "alder": 40}, SETTINGS)["under_klinisk_grans"] is False
    assert srs({"skattningar": [9, 9, 9, 9.5]}, SETTINGS) == {"total": 36.5, "alliansvarning": False}
    assert srs({"skattningar": [9, 9, 9, 9]}, SETTINGS)["alliansvarning"] is True
