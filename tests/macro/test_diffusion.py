"""DiffusionLaw: face gradients, closure calls, tangents, noise propagation."""

import numpy as np
import pytest
import scipy.sparse as sp

from macro import ClosureResult, CoefficientFlux, CountingClosure, DiffusionLaw, Grid1D, Grid2D, LinearFlux, solve_steady

A_FULL = np.array([[2.0, 0.6], [0.6, 1.0]])


def _affine(c0, c):
    return lambda *xs, t=0.0: c0 + sum(ci * x for ci, x in zip(c, xs))


@pytest.mark.parametrize(
    "grid, c",
    [
        (Grid1D(7, (-1.0, 2.0)), (0.8,)),
        (Grid2D((5, 3), ((0.0, 2.0), (1.0, 2.5))), (0.7, -1.3)),
        (Grid2D((1, 4)), (2.0, 0.5)),
    ],
)
def test_face_gradient_exact_for_affine_u(grid, c):
    g = _affine(0.3, c)
    law = DiffusionLaw(boundary=g)
    u = g(*grid.coords()).ravel()
    gmat, gvec = law.face_gradient_operator(grid, t=0.0)
    assert sp.issparse(gmat) and gmat.shape == (grid.n_faces * grid.dim, grid.n_cells)
    grad = (gmat @ u + gvec).reshape(grid.n_faces, grid.dim)
    np.testing.assert_allclose(grad, np.broadcast_to(c, grad.shape), atol=1e-12)
    # the operator is cached per grid
    assert law.face_gradient_operator(grid, 1.0)[0] is gmat
    pts = law.flux_points(grid, u, 0.0)
    assert pts.shape == (grid.n_faces, 2 * grid.dim)
    np.testing.assert_allclose(pts[:, : grid.dim], grid.face_centres())


def test_closure_names():
    assert DiffusionLaw.closure_inputs(Grid1D(3)) == ("x", "grad_x")
    assert DiffusionLaw.closure_inputs(Grid2D((2, 2))) == ("x", "y", "grad_x", "grad_y")
    assert DiffusionLaw.closure_outputs(Grid1D(3)) == ("flux",)
    assert DiffusionLaw.closure_outputs(Grid2D((2, 2))) == ("flux_x", "flux_y")


def test_evaluate_matches_three_point_laplacian_and_calls_once():
    grid = Grid1D(10)
    law = DiffusionLaw(source=1.5, boundary=0.0)
    u = np.random.default_rng(0).random(10)
    counted = CountingClosure(LinearFlux(2.0))
    ev = law.evaluate(grid, u, 0.0, counted)
    assert counted.calls == 1 and counted.points_evaluated == grid.n_faces
    h = 0.1
    ext = np.concatenate([[-u[0]], u, [-u[-1]]])  # ghost values 2g - u with g = 0
    lap = (ext[2:] - 2 * ext[1:-1] + ext[:-2]) / h**2
    np.testing.assert_allclose(ev.du_dt, 2.0 * lap + 1.5, rtol=1e-12)
    assert ev.normal_flux.shape == (11,) and np.all(ev.rhs_stderr == 0)


def _hide_tangent(closure):
    return lambda points: closure(points)


def _coefficient(x, y):
    return 1.0 + 0.5 * np.sin(2 * np.pi * y[:, 0]) * np.cos(2 * np.pi * y[:, -1])


@pytest.mark.parametrize(
    "grid, closure",
    [
        (Grid1D(9), CoefficientFlux(_coefficient, 0.1, 1)),
        (Grid2D((6, 5)), CoefficientFlux(_coefficient, 0.13, 2)),
        (Grid2D((6, 5)), LinearFlux(A_FULL)),
    ],
)
def test_fd_tangents_match_exact(grid, closure):
    law = DiffusionLaw(boundary=lambda *xs, t=0.0: xs[0] ** 2)
    u = np.random.default_rng(1).normal(size=grid.n_cells) * 5
    exact_t, ev_exact = law.tangents(grid, u, 0.0, closure)
    counted = CountingClosure(_hide_tangent(closure))
    fd_t, ev_fd = law.tangents(grid, u, 0.0, counted)
    assert counted.calls == 1  # base + dim perturbed copies in ONE stacked call
    assert counted.points_evaluated == (1 + grid.dim) * grid.n_faces
    np.testing.assert_allclose(fd_t, exact_t, rtol=1e-6, atol=1e-6 * np.abs(exact_t).max())
    np.testing.assert_allclose(ev_fd.du_dt, ev_exact.du_dt, rtol=1e-12)


def test_jacobian_matches_finite_differences_of_rhs():
    grid = Grid2D((5, 4))
    law = DiffusionLaw(source=1.0, boundary=0.5)
    closure = LinearFlux(A_FULL)
    u = np.random.default_rng(2).random(grid.n_cells)
    counted = CountingClosure(closure)
    jac, ev = law.jacobian(grid, u, 0.0, counted)
    assert counted.calls == 1 and counted.tangent_calls == 1
    # linear closure: F(u + e_j) - F(u) is column j exactly
    eye = np.eye(grid.n_cells)
    cols = np.column_stack(
        [law.evaluate(grid, u + eye[j], 0.0, closure).du_dt - ev.du_dt for j in range(grid.n_cells)]
    )
    np.testing.assert_allclose(jac.toarray(), cols, atol=1e-10)
    counted_fd = CountingClosure(_hide_tangent(closure))
    jac_fd, _ = law.jacobian(grid, u, 0.0, counted_fd)
    assert counted_fd.calls == 1
    np.testing.assert_allclose(jac_fd.toarray(), cols, atol=1e-6 * np.abs(cols).max())


def test_noise_propagation_and_cost():
    grid = Grid2D((4, 3))
    law = DiffusionLaw()
    sigma = np.linspace(0.1, 1.0, grid.n_faces)

    def noisy(points):
        n = len(points)
        return ClosureResult(points[:, 2:], np.column_stack([sigma[:n], sigma[:n]]), np.full(n, 2.0))

    ev = law.evaluate(grid, np.zeros(grid.n_cells), 0.0, noisy)
    hx, hy = grid.spacing
    # cell (0, 0): x-faces (0,0), (1,0) -> flat 0, 3 (ny = 3); y-faces (0,0), (0,1) -> 15, 16
    # (15 = (nx + 1) * ny x-faces come first)
    expected = np.sqrt((sigma[0] / hx) ** 2 + (sigma[3] / hx) ** 2 + (sigma[15] / hy) ** 2 + (sigma[16] / hy) ** 2)
    assert ev.rhs_stderr[0] == pytest.approx(expected)
    np.testing.assert_allclose(ev.cost_s, 2.0)


def test_max_diffusivity_gershgorin():
    grid = Grid2D((3, 3))
    d = DiffusionLaw().max_diffusivity(grid, np.zeros(9), 0.0, LinearFlux(A_FULL))
    assert d == pytest.approx(2.0 + 0.6)  # max row sum of |A| over normal rows


def test_argument_errors():
    grid = Grid2D((4, 3))
    law = DiffusionLaw()
    with pytest.raises(ValueError, match=r"`u` must have shape \(12,\) or the grid shape \(4, 3\), got \(5,\)"):
        law.evaluate(grid, np.zeros(5), 0.0, LinearFlux(1.0))
    with pytest.raises(TypeError, match="`source` must be a real number"):
        DiffusionLaw(source="hot")
    with pytest.raises(TypeError, match="`grid` must be a Grid1D or Grid2D"):
        law.evaluate((4, 3), np.zeros(12), 0.0, LinearFlux(1.0))
    with pytest.raises(ValueError, match=r"closure `mean` must have shape \(31, 2\)"):
        law.evaluate(grid, np.zeros(12), 0.0, lambda p: ClosureResult(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3)))
    with pytest.raises(TypeError, match="lacks"):
        law.evaluate(grid, np.zeros(12), 0.0, lambda p: np.zeros((31, 2)))
    with pytest.raises(ValueError, match="`fd_step` must be positive"):
        DiffusionLaw(fd_step=0.0)
    # u in grid shape is accepted
    assert law.evaluate(grid, np.zeros((4, 3)), 0.0, LinearFlux(1.0)).du_dt.shape == (12,)


# -- state-dependent closures: q = (1 + u) grad u --------------------------------------
#
# Kirchhoff transform: with K(u) = u + u^2 / 2, q = (1 + u) grad u = grad K(u), so the
# steady problem div q + f = 0 with u = g on the boundary is the linear one for K with
# K = K(g) there, and u = -1 + sqrt(1 + 2 K). The law's face value (the mean of the two
# values the normal gradient differences) makes the discrete fluxes exact differences
# of K, so the discrete u is K^-1 of the linear scheme's solution for K.

def _kirchhoff(u):
    return u + u**2 / 2


def _inverse_kirchhoff(k):
    return -1.0 + np.sqrt(1.0 + 2.0 * k)


class StateFlux:
    """q = (1 + u) G with its exact tangent [dq/du, dq/dG] (columns x.., u, G..)."""

    def __init__(self, dim=1, with_du=True):
        self.dim, self.with_du = dim, with_du

    def __call__(self, points, *, seed_rows=None):
        d = self.dim
        u, g = points[:, d:d + 1], points[:, d + 1:]
        return ClosureResult((1 + u) * g, np.zeros_like(g), np.zeros(len(points)))

    def tangent(self, points):
        d = self.dim
        u, g = points[:, d], points[:, d + 1:]
        du = g if self.with_du else np.zeros_like(g)  # without: the Jacobian misses dq/du
        return np.concatenate([du[:, :, None], (1 + u)[:, None, None] * np.eye(d)[None]], axis=2)


A_WALL, B_WALL, F_SRC = 0.5, 2.0, 3.0
STATE_LAW = DiffusionLaw(source=F_SRC, boundary=lambda x, t: np.where(x < 0.5, A_WALL, B_WALL), state_dependent=True)


def test_state_dependent_closure_columns_and_face_values():
    grid = Grid1D(4)
    assert STATE_LAW.closure_inputs(grid) == ("x", "u", "grad_x") and STATE_LAW.tangent_columns(grid) == ("u", "grad_x")
    assert DiffusionLaw.closure_inputs(grid) == ("x", "grad_x")  # the class call: state-independent columns
    u = np.array([1.0, 2.0, 3.0, 4.0])
    # interior faces: mean of the two cells; boundary faces: mean of the cell and g
    np.testing.assert_allclose(STATE_LAW.face_values(grid, u), [0.75, 1.5, 2.5, 3.5, 3.0])
    pts = STATE_LAW.flux_points(grid, u)
    assert pts.shape == (5, 3) and np.array_equal(pts[:, 1], STATE_LAW.face_values(grid, u))


def test_steady_state_dependent_flux_matches_the_kirchhoff_closed_form():
    errors = []
    for n in (16, 32, 64):
        grid = Grid1D(n)
        x, h = grid.centres[0], 1.0 / n
        k_exact = _kirchhoff(A_WALL) * (1 - x) + _kirchhoff(B_WALL) * x + F_SRC * x * (1 - x) / 2
        res = solve_steady(STATE_LAW, grid, StateFlux(), tol=1e-12)
        # the discrete solution: the linear scheme's K (exact for quadratics but for the
        # half-cell boundary shift f h^2 / 8) mapped back through K^-1
        np.testing.assert_allclose(res.u, _inverse_kirchhoff(k_exact + F_SRC * h**2 / 8), rtol=0, atol=1e-12)
        errors.append(np.abs(res.u - _inverse_kirchhoff(k_exact)).max())
    orders = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all(orders > 1.9), (errors, orders)  # measured 9.2e-4, 2.4e-4, 6.0e-5


def test_state_dependent_kirchhoff_identity_in_2d():
    grid = Grid2D((8, 6))

    def g(x, y, t=0.0):
        return 0.3 + x * y

    law = DiffusionLaw(source=2.0, boundary=g, state_dependent=True)
    linear = DiffusionLaw(source=2.0, boundary=lambda x, y, t=0.0: _kirchhoff(g(x, y)))
    k_linear = solve_steady(linear, grid, LinearFlux(1.0), tol=1e-12).u
    res = solve_steady(law, grid, StateFlux(dim=2), tol=1e-12)
    np.testing.assert_allclose(res.u, _inverse_kirchhoff(k_linear), rtol=0, atol=1e-11)


def test_newton_converges_quadratically_only_with_dq_du_in_the_jacobian():
    grid = Grid1D(32)
    u0 = A_WALL + (B_WALL - A_WALL) * grid.centres[0]
    full = solve_steady(STATE_LAW, grid, StateFlux(), u0=u0, tol=1e-12)
    partial = solve_steady(STATE_LAW, grid, StateFlux(with_du=False), u0=u0, tol=1e-12, max_iter=60)
    r, p = np.array(full.residual_history), np.array(partial.residual_history)
    # quadratic: r_{k+1} <= r_k^2 (the last step is at round-off); measured 5.25, 1.78, 7.2e-3, 2.0e-7, 8e-13
    assert np.all(r[-3:-1] <= r[-4:-2] ** 2), r
    # without dq/du the iteration only contracts linearly (measured ratio 0.08..0.17 per step), so it needs
    # far more steps: measured 4 against 12
    assert partial.iterations >= 2 * full.iterations, (full.iterations, partial.iterations)
    assert p[-1] / p[-2] > 1e-2 > r[-3] / r[-4]
    np.testing.assert_allclose(partial.u, full.u, rtol=0, atol=1e-10)  # same solution, slower


def test_fd_tangents_include_the_state_column():
    grid = Grid1D(9)
    u = 1.0 + np.random.default_rng(3).random(9)
    exact_t, _ = STATE_LAW.tangents(grid, u, 0.0, StateFlux())
    counted = CountingClosure(_hide_tangent(StateFlux()))
    fd_t, _ = STATE_LAW.tangents(grid, u, 0.0, counted)
    assert fd_t.shape == exact_t.shape == (10, 1, 2) and counted.calls == 1
    assert counted.points_evaluated == 3 * grid.n_faces  # base + a u copy + a gradient copy
    np.testing.assert_allclose(fd_t, exact_t, rtol=1e-5, atol=1e-5 * np.abs(exact_t).max())
    jac, _ = STATE_LAW.jacobian(grid, u, 0.0, StateFlux())
    eye = np.eye(9)  # the Jacobian is the derivative of du/dt (FD check, step 1e-7)
    f0 = STATE_LAW.evaluate(grid, u, 0.0, StateFlux()).du_dt
    cols = np.column_stack([(STATE_LAW.evaluate(grid, u + 1e-7 * eye[j], 0.0, StateFlux()).du_dt - f0) / 1e-7
                            for j in range(9)])
    np.testing.assert_allclose(jac.toarray(), cols, rtol=0, atol=1e-4 * np.abs(cols).max())


# -- the flux sign convention: u_t = div q + f, q = +D grad u ---------------------------

def test_a_closure_with_fick_sign_is_refused_naming_the_convention():
    from macro import get_stepper

    fick = LinearFlux(-1.0)  # q = -D grad u: the physical flux, not the law's q
    law, grid = DiffusionLaw(source=1.0), Grid1D(16)
    with pytest.raises(ValueError, match=r"decreases with the gradient at every face.*q = \+D grad u"):
        solve_steady(law, grid, fick)
    with pytest.raises(ValueError, match=r"q = \+D grad u"):  # also through FD tangents
        law.jacobian(grid, np.zeros(16), 0.0, _hide_tangent(fick))
    for name in ("implicit_euler", "heun"):
        stepper = get_stepper(name)(law, grid, fick)
        with pytest.raises(ValueError, match=r"q = \+D grad u"):
            stepper.step(np.zeros(16), 0.0, 0.01)
        assert stepper.status == "failed"
    with pytest.raises(ValueError, match="at all 31 faces"):  # 2D: the normal components count
        DiffusionLaw().jacobian(Grid2D((4, 3)), np.zeros(12), 0.0, LinearFlux(np.diag([-1.0, -2.0])))


def test_a_flux_decreasing_only_somewhere_is_accepted():
    def softening(points, *, seed_rows=None):  # q = G - G^3 / 3: dq/dG = 1 - G^2 < 0 only for |G| > 1
        g = points[:, 1:2]
        return ClosureResult(g - g**3 / 3, np.zeros_like(g), np.zeros(len(g)))

    law, grid = DiffusionLaw(boundary=lambda x, t: 3.0 * x), Grid1D(8)
    u = 3.0 * grid.centres[0] ** 2  # gradients from 0 to 6 across the domain
    tangent, _ = law.tangents(grid, u, 0.0, softening)
    assert np.any(tangent[:, 0, 0] < 0) and np.any(tangent[:, 0, 0] > 0)
