"""The answer to a query: German text for people, a JSON-able dict for machines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

JSONValue: TypeAlias = str | int | bool | list["JSONValue"] | dict[str, "JSONValue"] | None


def json_names(names: Iterable[str]) -> list[JSONValue]:
    """Names as a JSON list (a list[str] is not a list[JSONValue] to mypy)."""
    return list(names)


@dataclass(frozen=True, slots=True)
class Reason:
    """One step of the decision, citing the rule (P1–P5, P4a–P4e) it comes from."""

    rule: str
    text: str

    def to_dict(self) -> dict[str, JSONValue]:
        return {"rule": self.rule, "text": self.text}


@dataclass(frozen=True, slots=True)
class Answer:
    """The result of one query.

    `headline` is the result in one line, `facts` are the numbers that bound it (label,
    value), `reasons` cite the rules, `notes` are advice that does not change the result.
    `data` holds the kind-specific machine fields (decimals as strings, two places).
    """

    kind: str
    headline: str
    facts: tuple[tuple[str, str], ...] = ()
    reasons: tuple[Reason, ...] = ()
    notes: tuple[str, ...] = ()
    data: dict[str, JSONValue] = field(default_factory=dict)

    def to_text(self) -> str:
        """Plain text whose `*bold*` and `•` lines read well in Slack mrkdwn and a terminal."""
        lines = [f"*{self.headline}*"]
        lines.extend(f"{label}: {value}" for label, value in self.facts)
        if self.reasons:
            lines.append("Begründung:")
            lines.extend(f"• {reason.rule} – {reason.text}" for reason in self.reasons)
        if self.notes:
            lines.append("Hinweise:")
            lines.extend(f"• {note}" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, JSONValue]:
        result: dict[str, JSONValue] = {"kind": self.kind, "headline": self.headline}
        result.update(self.data)
        result["reasons"] = [reason.to_dict() for reason in self.reasons]
        result["notes"] = list(self.notes)
        return result
