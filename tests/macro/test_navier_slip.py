"""Navier slip boundaries of DiffusionLaw (channel flow with wall slip).

Closed forms (Navier 1823; e.g. Lauga, Brenner & Stone, "Microfluidics: the
no-slip boundary condition", Springer Handbook of Experimental Fluid
Mechanics, 2007): with u - g = l du/dn at both walls of a channel of width H,
plane Poiseuille flow is u = f (y (H - y) + l H) / (2 eta) and plane Couette
flow between walls at -U/2 and +U/2 is u = U (y - H/2) / (H + 2 l).
"""

import numpy as np
import pytest

from macro import DiffusionLaw, Grid1D, Grid2D, LinearFlux
from macro.steady import solve_steady


def test_poiseuille_with_navier_slip_matches_the_closed_form_up_to_the_half_cell_offset():
    eta, f, width, slip, n = 2.0, 0.3, 10.0, 1.5, 16
    law = DiffusionLaw(source=f, boundary=0.0, slip_length=slip)
    grid = Grid1D(n, (0.0, width))
    u = solve_steady(law, grid, LinearFlux(eta)).u
    y = grid.centres[0]
    exact = f * (y * (width - y) + slip * width) / (2 * eta)
    # interior differences of a quadratic are exact; the boundary half cell
    # extrapolates linearly, which raises every cell by f h^2 / (8 eta)
    h = width / n
    np.testing.assert_allclose(u, exact + f * h**2 / (8 * eta), rtol=0, atol=1e-12)
    # the slip velocity the law implies at the walls is l times the wall shear rate
    gmat, gvec = law.face_gradient_operator(grid)
    rate = gmat @ u + gvec
    np.testing.assert_allclose(rate[[0, -1]], [f * width / (2 * eta), -f * width / (2 * eta)], rtol=1e-12)


def test_couette_with_different_slip_at_each_wall_is_exact():
    width, speed, lo, hi = 8.0, 2.0, 0.5, 1.25
    law = DiffusionLaw(source=0.0, boundary=lambda y, t: np.where(y < width / 2, -speed / 2, speed / 2),
                       slip_length=(lo, hi))
    grid = Grid1D(7, (0.0, width))
    u = solve_steady(law, grid, LinearFlux(1.0)).u
    rate = speed / (width + lo + hi)
    y = grid.centres[0]
    np.testing.assert_allclose(u, -speed / 2 + rate * (y + lo), rtol=0, atol=1e-12)


def test_zero_slip_is_the_dirichlet_law_bit_for_bit():
    grid = Grid1D(9, (0.0, 1.0))
    plain, zero = DiffusionLaw(source=1.0), DiffusionLaw(source=1.0, slip_length=0.0)
    assert (plain.operators(grid).gradient != zero.operators(grid).gradient).nnz == 0
    assert (plain.operators(grid).boundary != zero.operators(grid).boundary).nnz == 0


@pytest.mark.parametrize("bad", [-0.1, (0.1, -1.0), (1.0, 2.0, 3.0), float("nan"), "wide", [[1.0]]])
def test_bad_slip_length_is_rejected(bad):
    with pytest.raises(ValueError, match="slip_length"):
        DiffusionLaw(slip_length=bad)


def test_slip_on_a_2d_grid_is_refused():
    with pytest.raises(ValueError, match="Grid1D only"):
        DiffusionLaw(slip_length=0.5).operators(Grid2D((4, 4), ((0, 1), (0, 1))))
