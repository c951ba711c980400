"""Swedish personal identity numbers: personnummer and samordningsnummer (day + 60).

`parse` validates the date and the check digit (Luhn over the ten-digit form) and gives the
twelve-digit form. `find` looks for one in free text, so case data never carries one outside
the field made for it.
"""
from __future__ import annotations

import re
from datetime import date

_FORMS = re.compile(r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+]?)(?P<serial>\d{3})(?P<check>\d)$")
# In free text only forms with a separator, or twelve digits from 19xx/20xx: bare ten-digit runs are
# mostly phone numbers, and one in ten of them would pass the check digit.
_IN_TEXT = re.compile(r"(?<!\d)(?:(?:19|20)\d{10}|(?:\d{2})?\d{6}[-+]\d{4})(?!\d)")


class InvalidPersonnummer(ValueError):
    """Why a value is not a personnummer or samordningsnummer."""


def _luhn(digits: str) -> int:
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def parse(value: str, today: date) -> str:
    """The twelve-digit form of a personnummer or samordningsnummer; InvalidPersonnummer otherwise."""
    match = _FORMS.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise InvalidPersonnummer("write it as YYYYMMDD-NNNN, YYMMDD-NNNN or twelve digits")
    yymmdd, serial, check = match["yymmdd"], match["serial"], match["check"]
    if match["century"]:
        year = int(match["century"] + yymmdd[:2])
    else:  # the latest year not in the future, or a hundred years earlier for the + of the very old
        year = today.year - (today.year - int(yymmdd[:2])) % 100
        if match["sep"] == "+":
            year -= 100
    day = int(yymmdd[4:])
    coordination = day > 60
    try:
        born = date(year, int(yymmdd[2:4]), day - 60 if coordination else day)
    except ValueError:
        raise InvalidPersonnummer("the date part is not a date" + (" (samordningsnummer: day + 60)"
                                                                    if coordination else "")) from None
    if born > today:
        raise InvalidPersonnummer("the date part is in the future")
    if _luhn(yymmdd + serial) != int(check):
        raise InvalidPersonnummer("the check digit does not match")
    return f"{year:04d}{yymmdd[2:]}{serial}{check}"


def find(text: str, today: date) -> bool:
    """Whether `text` holds a valid personnummer or samordningsnummer."""
    for candidate in _IN_TEXT.findall(text):
        try:
            parse(candidate, today)
            return True
        except InvalidPersonnummer:
            continue
    return False


def spellings(pnr: str) -> list[str]:
    """The ways a twelve-digit number is written, for tests that look for it anywhere."""
    return [pnr, pnr[2:], f"{pnr[:8]}-{pnr[8:]}", f"{pnr[2:8]}-{pnr[8:]}"]
