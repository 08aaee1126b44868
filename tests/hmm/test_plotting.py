"""hmm.plotting: labels with units, k-stderr error bars, reference lines, PNG files (real matplotlib, Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hmm import plotting  # noqa: E402


def test_axis_label_units():
    assert plotting.axis_label("velocity v", "sigma/tau") == "velocity v (sigma/tau)"
    assert plotting.axis_label("strain", "1") == "strain (dimensionless)"
    assert plotting.axis_label("count") == "count"
    with pytest.raises(TypeError, match="axis_label"):
        plotting.axis_label("")


def test_errorbar_is_k_stderr_wide_and_says_so():
    fig, ax = plotting.subplots()
    x, y, se = np.arange(3.0), np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])
    container = plotting.errorbar(ax, x, y, se, k=2, label="MD")
    segments = container.lines[2][0].get_segments()
    half_widths = [abs(s[1][1] - s[0][1]) / 2 for s in segments]
    np.testing.assert_allclose(half_widths, 2 * se)
    assert ax.get_legend_handles_labels()[1] == ["MD (\u00b12 stderr)"]
    with pytest.raises(ValueError, match="one shape"):
        plotting.errorbar(ax, x, y, se[:2])
    with pytest.raises(ValueError, match=">= 0"):
        plotting.errorbar(ax, x, y, -se)


def test_reference_line_power_law_passes_through_anchor():
    fig, ax = plotting.subplots()
    line = plotting.reference_line(ax, slope=2, anchor=(0.1, 1e-3), span=(0.01, 0.1), label="slope 2")
    xs, ys = line.get_data()
    np.testing.assert_allclose(ys, 1e-3 * (xs / 0.1) ** 2)
    assert xs[0] == pytest.approx(0.01) and xs[-1] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="exactly one"):
        plotting.reference_line(ax, x=1.0, y=2.0)
    with pytest.raises(ValueError, match="anchor"):
        plotting.reference_line(ax, slope=1)


def test_save_writes_png(tmp_path):
    fig, ax = plotting.subplots(1, 2)
    plotting.label(ax[0], "x", "u", x_unit="m", y_unit="K", title="t")
    assert ax[0].get_xlabel() == "x (m)" and ax[0].get_ylabel() == "u (K)"
    path = plotting.save(fig, tmp_path / "sub" / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=".png"):
        plotting.save(fig, tmp_path / "f.pdf")
