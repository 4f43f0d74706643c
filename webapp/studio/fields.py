"""Reading one field of a request: its errors, and whole numbers, numbers and booleans from JSON or a form.

Each reader returns the value, or records an error that names the field and returns None (or the
default), so the validator can report every bad field at once.
"""

import math
import unicodedata
from dataclasses import dataclass

# Tab, newline and carriage return are text; every other control character, and lone surrogates
# (which JSON can carry as \ud800), are not. PostgreSQL refuses NUL outright and cannot store
# surrogates, while SQLite keeps both: refusing them here makes both databases behave the same.
TEXT_CONTROLS = frozenset("\t\n\r")


def bad_character(text: str) -> str | None:
    """A description of the first character in `text` that no text field may hold, or None."""
    for index, char in enumerate(text):
        if char in TEXT_CONTROLS:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return f"control character U+{ord(char):04X} at position {index}"
    return None


@dataclass
class FieldError:
    parameter: str
    message: str
    code: str = "invalidParameter"

    def as_dict(self):
        return {"parameter": self.parameter, "message": self.message, "code": self.code}


class InvalidRequest(Exception):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.parameter}: {e.message}" for e in errors))

    def by_field(self) -> dict[str, str]:
        return {e.parameter: e.message for e in self.errors}


class FieldErrors:
    """The errors found so far, at most one per field (the first one found)."""

    def __init__(self):
        self.items: list[FieldError] = []

    def add(self, parameter, message, code=None):
        if not any(e.parameter == parameter for e in self.items):
            code = code or "invalid" + parameter[:1].upper() + parameter[1:]
            self.items.append(FieldError(parameter, message, code))

    def has(self, parameter):
        return any(e.parameter == parameter for e in self.items)


def read_int(payload, name, errors: FieldErrors, *, low, high, default=None):
    value = payload.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            errors.add(name, f"{name} must be a whole number, not {value[:40]!r}.")
            return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(name, f"{name} must be a whole number.")
        return None
    if not low <= value <= high:
        errors.add(name, f"{name} must be between {low} and {high}, not {value}.")
        return None
    return value


def read_float(payload, name, errors: FieldErrors, *, low, high, default=None):
    value = payload.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            errors.add(name, f"{name} must be a number, not {value[:40]!r}.")
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.add(name, f"{name} must be a number.")
        return None
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        errors.add(name, f"{name} must be between {low:g} and {high:g}.")
        return None
    return value


def read_bool(payload, name, errors: FieldErrors, default=False):
    value = payload.get(name, default)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "on", "1", "0"):
        return value.lower() in ("true", "on", "1")
    errors.add(name, f"{name} must be true or false.")
    return default
