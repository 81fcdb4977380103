"""The result of :func:`healthgap.data.validate` and its one-screen text form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ValidationReport"]

_WIDTH = 100


def _order_key(codes: tuple[str, ...]):
    if codes:
        return lambda item: codes.index(item[0]) if item[0] in codes else len(codes)
    return lambda item: int(item[0]) if item[0].lstrip("-").isdigit() else 0


@dataclass
class ValidationReport:
    """What :func:`healthgap.data.validate` found.

    Attributes
    ----------
    source : the data file.
    format : ``parquet`` or ``csv``.
    synthetic : whether the config labels the data synthetic.
    source_columns : column names in the file.
    rows : number of rows (0 if unreadable).
    completeness : canonical column -> share of rows with a value.
    missing : canonical column -> number of rows without a value.
    distributions : canonical column -> [(code, rows), ...], most common first.
    missing_optional : optional columns (core, declared measures) the data does not have.
    shown : columns whose code distribution the report shows.
    code_order : column -> its codes in display order (empty: as found).
    problems : errors; the data cannot be used until they are fixed.
    warnings : things worth checking that do not stop the analysis.
    """

    source: Path
    format: str
    synthetic: bool = False
    source_columns: list[str] = field(default_factory=list)
    rows: int = 0
    completeness: dict[str, float] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    distributions: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    code_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems

    def _packed(self, items: list[str], indent: str = "  ") -> list[str]:
        lines, line = [], indent
        for item in items:
            if len(line) + len(item) > _WIDTH and line.strip():
                lines.append(line.rstrip())
                line = indent
            line += item + "  "
        if line.strip():
            lines.append(line.rstrip())
        return lines

    def render(self) -> str:
        """One screen of text: rows, completeness, code distributions, warnings, problems."""
        kind = f"{self.format}, synthetic" if self.synthetic else self.format
        out = [f"Dataset: {self.source} ({kind})"]
        if self.completeness:
            out.append(f"Rows: {self.rows:,}   Contract columns present: {len(self.completeness)}")
            out.append("Completeness (% of rows with a value):")
            width = max(len(n) for n in self.completeness)
            out += self._packed([f"{n:<{width}} {100 * s:5.1f}" for n, s in self.completeness.items()])
            gaps = [f"{n} {m:,}" for n, m in self.missing.items() if m]
            if gaps:
                out.append("Missing values (rows):")
                out += self._packed(gaps)
            shown = [n for n in self.shown if n in self.distributions]
            if shown:
                out.append("Codes (% of rows):")
            for name in shown:
                dist = sorted(self.distributions[name], key=_order_key(self.code_order.get(name, ())))
                total = sum(n for _, n in dist) or 1
                parts = ", ".join(f"{v} {100 * n / total:.1f}%" for v, n in dist[:10])
                out.append(f"  {name:<12} {parts}"[:_WIDTH])
            if self.missing_optional:
                out.append("Not in this dataset (optional): " + ", ".join(self.missing_optional))
        for title, items in (("Warnings", self.warnings), ("Problems", self.problems)):
            if items:
                out.append(f"{title} ({len(items)}):")
                out += [f"  - {p}" for p in items]  # every problem at once, never "and N more"
        out.append(
            "Result: OK"
            if self.ok
            else f"Result: FAILED with {len(self.problems)} problem(s); fix them and run `healthgap validate` again."
        )
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()
