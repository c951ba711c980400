"""The engine's error hierarchy; the API maps each class to one problem type."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    """One invalid input: where it is (a JSON pointer, file/line/element) and the rule it breaks."""

    location: str
    message: str
    file: str | None = None
    line: int | None = None
    element: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class EngineError(Exception):
    """Base class: a domain error with a human-readable detail."""

    title = "Engine error"

    def __init__(self, detail: str, errors: list[FieldError] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(EngineError):
    title = "Not found"


class Conflict(EngineError):
    title = "Conflict"


class InvalidTransition(EngineError):
    """The thing exists but is not in a state where this action is possible."""

    title = "Invalid state transition"


class Refused(EngineError):
    """The principal is known but may not do this."""

    title = "Forbidden"


class InvalidInput(EngineError):
    """Input breaks a rule; `errors` names each field or element."""

    title = "Invalid input"


class TooMany(EngineError):
    """The caller has too much going on at once; it may try again after `retry_after` seconds."""

    title = "Too many requests"
    retry_after = 1


@dataclass
class ExpressionError(Exception):
    """An expression outside the safe subset; raised at deploy time."""

    message: str
    expression: str = ""
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message
