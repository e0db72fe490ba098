"""What the record list shows: conditions, free-text search and sort, over one database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Op = Literal["=", "~"]


@dataclass(frozen=True)
class Condition:
    field_id: str
    op: Op  # "=" equals, "~" contains (case-insensitive for ASCII)
    value: str

    def describe(self, label: str | None = None) -> str:
        return f"{label or self.field_id}{self.op}{self.value}"


@dataclass(frozen=True)
class Query:
    conditions: tuple[Condition, ...] = ()
    search: str = ""  # free text over ``search_fields``
    search_fields: tuple[str, ...] = ()  # field ids (the menu's shown columns)
    sort_field: str | None = None  # None = import order
    descending: bool = False

    def with_(self, **changes) -> Query:
        from dataclasses import replace

        return replace(self, **changes)


class ConditionError(ValueError):
    """A --where / condition text that cannot be understood; the message says how to write it."""


def parse_condition(text: str, fields: list[tuple[str, str]]) -> Condition:
    """Parse ``LABEL=VALUE`` or ``LABEL~TEXT``; ``fields`` is [(id, label), ...]. Ids work too."""
    pos = [i for i in (text.find("="), text.find("~")) if i > 0]
    if not pos:
        raise ConditionError(f"condition {text!r}: write LABEL=VALUE (equals) or LABEL~TEXT (contains)")
    i = min(pos)
    name, op, value = text[:i].strip(), text[i], text[i + 1 :]
    for fid, label in fields:
        if name in (fid, label):
            return Condition(fid, op, value)  # type: ignore[arg-type]
    known = ", ".join(label for _, label in fields)
    raise ConditionError(f"condition {text!r}: no column {name!r}; columns are: {known}")
