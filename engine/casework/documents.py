"""Printable documents rendered from case data with Jinja2: the SIP, the Västbas handlingsplan, the kallelse.

Templates are deployed with the process (NAME.html; forms/templates/ by default) and a case prints
with its version's; autoescaping is on, so case data can never become markup. A document exists
for a case once the data it prints has been recorded.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import DictLoader, Environment, FileSystemLoader, select_autoescape

from engine.core import words
from engine.core.clock import Clock
from engine.core.errors import InvalidTransition, NotFound
from engine.core.models import Case, ProcessVersion

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# name -> the case data keys it prints, and what to call the missing part in an error
DOCUMENTS = {
    "sip": (("sip",), "ingen SIP har upprättats i ärendet ännu"),
    "handlingsplan": (("handlingsplan",), "ingen handlingsplan har fastställts i ärendet ännu"),
    "kallelse": (("natverksmote_1", "gastlista"), "inget nätverksmöte har planerats i ärendet ännu"),
}
# Documents for the family's network (relatives, the språkrör, others outside the agencies) name the
# child and never print the personnummer.
FOR_THE_NETWORK = frozenset({"kallelse"})


def _with_filters(environment: Environment) -> Environment:
    # Documents are read by people: Swedish words for the enum values, times in Swedish time.
    environment.filters.update(verksamhet=words.agency, ord=words.word, tid=words.local_time)
    return environment


@lru_cache(maxsize=8)
def _directory_environment(directory: Path) -> Environment:
    return _with_filters(Environment(loader=FileSystemLoader(directory), autoescape=select_autoescape(default=True)))


def _environment(templates: dict[str, str] | Path) -> Environment:
    if isinstance(templates, Path):
        return _directory_environment(templates)
    return _with_filters(Environment(loader=DictLoader(templates), autoescape=select_autoescape(default=True)))


def templates_of(version: ProcessVersion, fallback: Path) -> dict[str, str] | Path:
    """The templates deployed with a process version, or the server's folder for versions from before that."""
    return version.resources["templates"] if version.resources is not None else fallback


def _exists(templates: dict[str, str] | Path, file: str) -> bool:
    return (templates / file).is_file() if isinstance(templates, Path) else file in templates


def require_known(name: str, templates: dict[str, str] | Path | None = None) -> None:
    """NotFound unless `name` is one of the documents (never a path: `../x` is just an unknown name)."""
    if not _NAME.match(name) or name not in DOCUMENTS or (templates is not None and
                                                          not _exists(templates, f"{name}.html")):
        raise NotFound(f"no document named {name[:60]!r}; there are: {', '.join(sorted(DOCUMENTS))}")


def render(case: Case, data: dict, name: str, templates: dict[str, str] | Path, clock: Clock,
           personnummer: str | None = None) -> str:
    """The document `name` for `case` as printable HTML, from the `data` its reader may see."""
    require_known(name, templates)
    needed, missing = DOCUMENTS[name]
    if not all(key in data for key in needed):
        raise InvalidTransition(missing)
    shown = None if name in FOR_THE_NETWORK else personnummer
    context = {**data, "arende": {"id": case.id, "nummer": case.case_number, "process": case.process_key,
                                  "barn_personnummer": shown},
               "utskrivet": words.local_time(clock.now())}
    return _environment(templates).get_template(f"{name}.html").render(context)
