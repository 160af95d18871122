"""Error hierarchy for anju.

One root, :class:`AnjuError`; each subclass also inherits the builtin it
resembles (as rasterio does) so callers may catch either.
Validators collect every :class:`Problem` and raise :class:`ValidationError`
once with all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


class AnjuError(Exception):
    """Root of every error anju raises on purpose."""


class LayerNotFoundError(AnjuError, FileNotFoundError):
    """A file or a layer inside a file is missing."""


class LayerSchemaError(AnjuError, ValueError):
    """A layer's columns, types, values or geometries break its spec."""


class CRSError(AnjuError, ValueError):
    """A CRS is missing, wrong for the operation, or coordinates fall outside it."""


class PolicyError(AnjuError, ValueError):
    """A policy profile is malformed (unknown field, typo, bad threshold)."""


class InfeasibleError(AnjuError, RuntimeError):
    """An optimisation problem has no feasible solution."""


@dataclass(frozen=True)
class Problem:
    """One problem found while reading or validating inputs.

    ``severity`` is ``"error"`` (blocks the run) or ``"warning"`` (the input was
    repaired or is questionable, the run goes on).
    """

    file: str
    layer: str
    message: str
    row: str | None = None
    column: str | None = None
    severity: str = "error"

    def line(self) -> str:
        """One human-readable line: file, layer, row/column, what is wrong."""
        where = [self.file or "-", f"layer {self.layer}" if self.layer else None]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        loc = ", ".join(w for w in where if w)
        return f"{self.severity.upper()}: {loc}: {self.message}"


class ValidationError(AnjuError, ValueError):
    """Raised once with every problem a validator found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} problem(s) in the inputs"
        super().__init__(head + ":\n" + "\n".join(p.line() for p in errors))
