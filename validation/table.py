"""Plain data of the validation report: sections, columns, measured values and verdicts.

The case modules return :class:`Section` objects whose rows map column keys
to cells; ``docs/make_validation.py`` renders every section with one
renderer. A cell is plain data:

* ``str`` -- text as it stands;
* ``int`` / ``float`` -- a number, formatted by the column's ``fmt``;
* :class:`Measured` -- a mean with its standard error;
* :class:`Text` -- a template with named values (the numbers stay
  accessible as ``cell.values``);
* :class:`Agreement` -- the verdict of a measured value against a reference.

Nothing here writes markdown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

import numpy as np

__all__ = ["Agreement", "Cell", "Column", "Measured", "Section", "Text", "agreement", "weighted_mean"]


@dataclass(frozen=True)
class Measured:
    """A measured mean and its standard error (the same units).

    ``fmt`` is the format spec of both numbers (e.g. ``".3f"``); ``style``
    ``"pm"`` shows them as ``mean +- stderr``, ``"paren"`` as ``mean (stderr)``.
    ``suffix`` is text after them (a unit, a condition of the run).
    """

    mean: float
    stderr: float
    fmt: str = ".4f"
    style: str = "pm"
    suffix: str = ""

    def __post_init__(self) -> None:
        if self.style not in ("pm", "paren"):
            raise ValueError(f"Measured(): `style` must be 'pm' or 'paren', got {self.style!r}")


@dataclass(frozen=True)
class Text:
    """A text cell: ``template.format(**values)``; ``values`` are the named numbers in it."""

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, template: str, **values: Any) -> None:
        object.__setattr__(self, "template", str(template))
        object.__setattr__(self, "values", dict(values))


@dataclass(frozen=True)
class Agreement:
    """Verdict of a measured value against a reference.

    Attributes
    ----------
    ok : bool
        ``|measured - reference| <= 4 stderr + allowance``.
    z : float
        ``|measured - reference| / stderr`` (in standard errors).
    allowance : float
        Systematic allowance added to the 4-sigma band (the reference's own
        error, a discretisation bias), in the units of the measured value;
        0 for none.
    """

    ok: bool
    z: float
    allowance: float = 0.0


Cell = Union[str, int, float, Measured, Text, Agreement, None]


@dataclass(frozen=True)
class Column:
    """A table column: ``key`` in the rows, ``header`` shown, ``fmt`` for plain numbers."""

    key: str
    header: str
    fmt: str = "g"


@dataclass(frozen=True)
class Section:
    """One section of the report: a heading, paragraphs, one table, notes.

    Attributes
    ----------
    title : str
        Heading text.
    columns : tuple of Column
        The table's columns, in order.
    rows : tuple of mapping
        Each row maps column keys to cells (a missing key is an empty cell).
    intro, notes : tuple of str
        Paragraphs before and after the table.
    """

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Cell], ...]
    intro: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [c.key for c in self.columns]
        for i, row in enumerate(self.rows):
            extra = set(row) - set(keys)
            if extra:
                raise ValueError(f"Section({self.title!r}): row {i} has keys {sorted(extra)} that are not "
                                 f"columns {keys}")

    def column(self, key: str) -> list[Cell]:
        """The cells of one column, row by row."""
        return [row.get(key) for row in self.rows]


def agreement(measured: float, stderr: float, reference: float, allowance: float = 0.0) -> Agreement:
    """:class:`Agreement` of ``measured +- stderr`` with ``reference``: within 4
    standard errors plus ``allowance`` (all in the measured value's units)."""
    diff = abs(measured - reference)
    return Agreement(bool(diff <= 4 * stderr + allowance), diff / math.hypot(stderr, 1e-300), float(allowance))


def weighted_mean(values: Sequence[float], stderrs: Sequence[float]) -> tuple[float, float]:
    """Inverse-variance weighted mean of independent estimates and its standard error."""
    w = 1.0 / np.asarray(stderrs, dtype=float) ** 2
    return float(np.sum(w * np.asarray(values, dtype=float)) / np.sum(w)), float(1.0 / math.sqrt(np.sum(w)))
