"""One figure style for the examples and notebooks, and a few helpers.

Figures meant for a paper: every axis labelled with its quantity and unit,
noisy data with error bars of a stated width, reference curves in the
legend, PNG files at a fixed resolution. matplotlib is an optional extra
(``pip install -e ".[examples]"``); it is imported inside the functions, so
importing this module costs nothing.

Examples
--------
>>> from hmm import plotting
>>> plotting.use_style()                                   # doctest: +SKIP
>>> fig, ax = plotting.subplots(1, 2)                      # doctest: +SKIP
>>> plotting.label(ax[0], "x", "u", x_unit="m", y_unit="K")  # doctest: +SKIP
>>> plotting.errorbar(ax[0], x, u, u_stderr, label="HMM")  # doctest: +SKIP
>>> plotting.reference_line(ax[1], slope=2, anchor=(h[0], e[0]), label="O(H^2)")  # doctest: +SKIP
>>> plotting.save(fig, "figures/study_error.png")          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["STYLE", "use_style", "subplots", "axis_label", "label", "errorbar", "reference_line", "save"]

#: matplotlib rcParams of the house style (applied by :func:`use_style`, with a colour cycle).
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "errorbar.capsize": 2,
}

_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def use_style() -> None:
    """Apply the house style to matplotlib's global rcParams.

    Colour-blind safe colour cycle (Okabe & Ito), light grid, frameless
    legends, 150 dpi PNGs cropped to the drawn area.
    """
    import matplotlib as mpl
    from cycler import cycler

    params = dict(STYLE)
    params["axes.prop_cycle"] = cycler(color=list(_COLOURS))
    mpl.rcParams.update(params)


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 4.2, height: float = 3.3, **kwargs):
    """``plt.subplots`` in the house style with panels of a fixed size.

    Parameters
    ----------
    nrows, ncols : int
        Panel grid.
    width, height : float
        Size of one panel in inches; the figure is ``ncols * width`` by
        ``nrows * height``.
    **kwargs
        Passed to ``matplotlib.pyplot.subplots`` (``squeeze``, ``sharex``, ...).

    Returns
    -------
    (Figure, Axes or array of Axes)
    """
    import matplotlib.pyplot as plt

    use_style()
    kwargs.setdefault("constrained_layout", True)
    return plt.subplots(nrows, ncols, figsize=(ncols * width, nrows * height), **kwargs)


def axis_label(quantity: str, unit: str | None = None) -> str:
    """``"quantity (unit)"``, or ``quantity`` alone for a dimensionless one.

    Parameters
    ----------
    quantity : str
        Name or symbol of the plotted quantity, e.g. ``"velocity v"``.
    unit : str or None
        Its unit, e.g. ``"sigma/tau"``; ``None`` or ``""`` for a pure number
        (then nothing is appended), ``"1"`` to write "(dimensionless)".
    """
    if not isinstance(quantity, str) or not quantity:
        raise TypeError(f"axis_label(): `quantity` must be a non-empty str, got {quantity!r}")
    if not unit:
        return quantity
    return f"{quantity} (dimensionless)" if unit == "1" else f"{quantity} ({unit})"


def label(ax, x: str, y: str, *, x_unit: str | None = None, y_unit: str | None = None,
          title: str | None = None) -> None:
    """Label both axes of ``ax`` with quantity and unit (see :func:`axis_label`), and its title."""
    ax.set_xlabel(axis_label(x, x_unit))
    ax.set_ylabel(axis_label(y, y_unit))
    if title is not None:
        ax.set_title(title)


def errorbar(ax, x, y, stderr, *, k: float = 2.0, label: str | None = None, fmt: str = "o-", **kwargs):
    """Plot ``y`` against ``x`` with error bars of ``k`` standard errors.

    Parameters
    ----------
    ax : matplotlib Axes
    x, y : array_like
        Abscissae and means, same length.
    stderr : array_like
        Standard errors of ``y`` (same length, >= 0), in the unit of ``y``.
    k : float
        Half-width of a bar in standard errors (2 is a ~95 % interval for a
        Gaussian mean); the legend entry says so.
    label : str or None
        Legend text; `` (+-k stderr)`` is appended.
    fmt : str
        matplotlib format string.
    **kwargs
        Passed to ``Axes.errorbar``.

    Returns
    -------
    matplotlib ErrorbarContainer
    """
    x, y, se = (np.asarray(a, dtype=float) for a in (x, y, stderr))
    if not (x.shape == y.shape == se.shape):
        raise ValueError(f"errorbar(): x, y and stderr must have one shape, got {x.shape}, {y.shape}, {se.shape}")
    if np.any(se < 0):
        raise ValueError("errorbar(): stderr must be >= 0")
    if not k > 0:
        raise ValueError(f"errorbar(): k must be > 0, got {k}")
    text = None if label is None else f"{label} (\u00b1{k:g} stderr)"
    return ax.errorbar(x, y, k * se, fmt=fmt, label=text, **kwargs)


def reference_line(ax, *, x: float | None = None, y: float | None = None, slope: float | None = None,
                   anchor: tuple[float, float] | None = None, span: tuple[float, float] | None = None,
                   label: str | None = None, **kwargs):
    """A reference: a vertical line at ``x``, a horizontal one at ``y``, or a
    power law ``y = y0 (x / x0)**slope`` through ``anchor = (x0, y0)``.

    Give exactly one of ``x``, ``y`` or (``slope`` with ``anchor``). The
    power law is drawn over ``span`` (default: the current x limits); on
    log-log axes it is the straight line of an order-``slope`` convergence.
    Drawn grey and dashed unless ``kwargs`` say otherwise; ``label`` goes to
    the legend.

    Returns
    -------
    matplotlib Line2D
    """
    given = sum(v is not None for v in (x, y, slope))
    if given != 1:
        raise ValueError("reference_line(): give exactly one of x, y or slope (with anchor)")
    kwargs.setdefault("color", "0.4")
    kwargs.setdefault("ls", "--")
    kwargs.setdefault("lw", 1.0)
    if x is not None:
        return ax.axvline(x, label=label, **kwargs)
    if y is not None:
        return ax.axhline(y, label=label, **kwargs)
    if anchor is None:
        raise ValueError("reference_line(): `slope` needs `anchor` = (x0, y0)")
    x0, y0 = (float(v) for v in anchor)
    lo, hi = span if span is not None else ax.get_xlim()
    xs = np.geomspace(lo, hi, 50) if lo > 0 else np.linspace(lo, hi, 50)
    return ax.plot(xs, y0 * (xs / x0) ** slope, label=label, **kwargs)[0]


def save(fig, path: str | Path, *, dpi: int | None = None) -> Path:
    """Write ``fig`` as PNG to ``path`` (parent folders created); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save(): `path` must end in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi or STYLE["savefig.dpi"])
    return path
