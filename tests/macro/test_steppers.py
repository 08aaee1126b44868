"""Time-steppers on u_t = a u_xx, u(0) = sin(pi x), u = 0 on the boundary.

Exact PDE solution: exp(-a pi^2 t) sin(pi x). With the ghost-value Dirichlet
treatment, sin(pi x_i) at the cell centres is an exact eigenvector of the
semi-discrete operator with eigenvalue lam_h = -a (4/h^2) sin^2(pi h / 2), so
time-discretisation errors are measured against exp(lam_h t) sin(pi x_i),
free of spatial error (standard Fourier analysis of the 3-point Laplacian,
e.g. LeVeque, Finite Difference Methods for ODEs and PDEs, 2007, sec. 2.10).
"""

import numpy as np
import pytest

from macro import (
    STEPPERS, ClosureResult, CountingClosure, DiffusionLaw, Grid1D, LinearFlux, Stepper,
    StepperError, get_stepper,
)

A = 0.5
T_END = 0.2
GRID = Grid1D(64)
X = GRID.coords()[0]
H = GRID.spacing[0]
LAM_H = -A * 4 / H**2 * np.sin(np.pi * H / 2) ** 2


def _run(name, n_steps, closure=None, **options):
    stepper = get_stepper(name)(DiffusionLaw(), GRID, closure or LinearFlux(A), **options)
    u, t, dt = np.sin(np.pi * X), 0.0, T_END / n_steps
    results = []
    for _ in range(n_steps):
        res = stepper.step(u, t, dt)
        u, t = res.u, res.t
        results.append(res)
    assert t == pytest.approx(T_END)
    return u, stepper, results


def _time_error(u):
    return np.abs(u - np.exp(LAM_H * T_END) * np.sin(np.pi * X)).max()


@pytest.mark.parametrize("name, order", [("implicit_euler", 1), ("crank_nicolson", 2)])
def test_implicit_orders(name, order):
    errors = [_time_error(_run(name, n)[0]) for n in (10, 20, 40)]
    p = np.log2(np.array(errors[:-1]) / errors[1:])
    # measured: implicit_euler 0.971, 0.985; crank_nicolson 2.001, 2.000
    assert np.all(np.abs(p - order) < 0.2), p
    assert STEPPERS[name].order == order


def test_implicit_euler_reuses_linear_jacobian():
    u, stepper, results = _run("implicit_euler", 25)
    assert stepper.n_jacobians == 1 and stepper.n_steps == 25
    # step 1: Jacobian + residual check; later steps: start residual + check
    assert all(r.n_closure_calls == 2 and r.newton_iterations == 1 for r in results)
    assert stepper.n_closure_calls == 50
    # evaluation is at the converged new state
    np.testing.assert_allclose(results[-1].evaluation.du_dt, stepper.law.evaluate(GRID, u, T_END, LinearFlux(A)).du_dt)
    # a new dt forces a refresh
    stepper.step(u, T_END, 0.003)
    assert stepper.n_jacobians == 2


def test_crank_nicolson_reuses_start_evaluation_and_fd_jacobian():
    counted = CountingClosure(lambda pts: LinearFlux(A)(pts))  # FD tangents
    u, stepper, results = _run("crank_nicolson", 10, closure=counted)
    assert stepper.n_jacobians == 1
    # first step: F(u0) + stacked FD Jacobian + check; then F(u_n) is reused
    assert [r.n_closure_calls for r in results] == [3] + [2] * 9
    assert counted.calls == stepper.n_closure_calls == 21
    assert _time_error(u) < 1e-3


@pytest.mark.parametrize("name", ["explicit_euler", "heun"])
def test_explicit_subcycling_is_stable(name):
    u, stepper, results = _run(name, 10)  # dt = 0.02 >> CFL limit 0.9 h^2 / (2 a) ~ 2.2e-4
    n_sub = results[0].n_substeps
    dt_max = 0.9 / (2 * A / H**2)
    assert n_sub == int(np.ceil(0.02 / dt_max)) and n_sub > 1
    # diffusivity estimated once at step 1 (cfl_refresh = 10): one extra closure call
    calls_per_sub = 1 if name == "explicit_euler" else 2
    assert stepper.n_closure_calls == 10 * n_sub * calls_per_sub + 1
    exact = np.exp(-A * np.pi**2 * T_END) * np.sin(np.pi * X)
    assert np.all(np.isfinite(u)) and np.abs(u - exact).max() < 5e-4
    # evaluation is at the START of the step
    np.testing.assert_allclose(results[0].evaluation.du_dt, LAM_H * np.sin(np.pi * X), rtol=1e-10, atol=1e-12)


def test_explicit_without_subcycling_would_blow_up():
    """Guard that the sub-cycling test can fail: one Euler step of 0.02 is unstable."""
    law, closure = DiffusionLaw(), LinearFlux(A)
    u = np.sin(np.pi * X) + 1e-3 * np.cos(np.arange(64) * np.pi)  # seed the stiff mode
    for _ in range(10):
        u = u + 0.02 * law.evaluate(GRID, u, 0.0, closure).du_dt
    assert np.abs(u).max() > 1e6


def test_cfl_refresh_period():
    stepper = get_stepper("explicit_euler")(DiffusionLaw(), GRID, LinearFlux(A), cfl_refresh=3)
    u = np.sin(np.pi * X)
    for k in range(7):
        u = stepper.step(u, k * 1e-4, 1e-4).u
    # estimates at steps 1, 4, 7; each substep one call; dt below the limit -> no sub-cycling
    assert stepper.n_closure_calls == 7 + 3


def test_newton_failure_raises_stepper_error():
    def cubic(points):
        g = points[:, 1:2]
        return ClosureResult(g + 10 * g**3, np.zeros_like(g), np.zeros(len(g)))

    stepper = get_stepper("implicit_euler")(DiffusionLaw(), Grid1D(16), cubic, max_newton=1)
    with pytest.raises(StepperError, match=r"implicit_euler step from t=0.5 with dt=1 failed: Newton"):
        stepper.step(5 * np.sin(np.pi * Grid1D(16).coords()[0]), 0.5, 1.0)
    assert stepper.status == "failed"


def test_registry_and_argument_errors():
    assert set(STEPPERS) == {"explicit_euler", "heun", "implicit_euler", "crank_nicolson", "nessyahu_tadmor"}
    assert all(issubclass(c, Stepper) for c in STEPPERS.values())
    assert get_stepper(STEPPERS["heun"]) is STEPPERS["heun"]
    with pytest.raises(ValueError, match=r"unknown stepper 'rk45'.*'crank_nicolson', 'explicit_euler', 'heun', 'implicit_euler'"):
        get_stepper("rk45")
    with pytest.raises(TypeError, match="Stepper subclass"):
        get_stepper(3)
    stepper = get_stepper("heun")(DiffusionLaw(), GRID, LinearFlux(A))
    with pytest.raises(ValueError, match=r"`u` must have shape \(64,\)"):
        stepper.step(np.zeros(10), 0.0, 0.1)
    with pytest.raises(ValueError, match="`dt` must be positive"):
        stepper.step(np.zeros(64), 0.0, 0.0)
    with pytest.raises(ValueError, match="`cfl` must be positive"):
        get_stepper("heun")(DiffusionLaw(), GRID, LinearFlux(A), cfl=-1.0)
    with pytest.raises(TypeError, match="`law` must be a DiffusionLaw"):
        get_stepper("heun")("law", GRID, LinearFlux(A))


def test_2d_crank_nicolson_fd_tangents():
    from macro import Grid2D

    grid = Grid2D((16, 12))
    X2, Y2 = grid.coords()
    u0 = (np.sin(np.pi * X2) * np.sin(np.pi * Y2)).ravel()
    tensor = np.diag([1.0, 0.5])
    stepper = get_stepper("crank_nicolson")(DiffusionLaw(), grid, lambda p: LinearFlux(tensor)(p))
    u, t = u0, 0.0
    for _ in range(5):
        res = stepper.step(u, t, 0.02)
        u, t = res.u, res.t
    exact = np.exp(-1.5 * np.pi**2 * t) * u0
    assert stepper.n_jacobians == 1
    assert np.abs(u - exact).max() < 5e-3  # spatial O(h^2) plus CN O(dt^2)


def test_implicit_noisy_closure_stops_at_noise_floor():
    rng = np.random.default_rng(3)
    sigma = 1e-5

    def noisy(points):
        g = points[:, 1:2]
        return ClosureResult(A * g + sigma * rng.normal(size=g.shape), np.full(g.shape, sigma), np.zeros(len(g)))

    law = DiffusionLaw(fd_step=1e-2)  # FD step >> sigma / |G| (see DiffusionLaw notes)
    stepper = get_stepper("implicit_euler")(law, GRID, noisy, max_newton=4)
    u, t = np.sin(np.pi * X), 0.0
    for _ in range(5):
        res = stepper.step(u, t, 0.01)  # would raise StepperError without the noise floor
        u, t = res.u, res.t
    # backward Euler of the eigenmode, noise-free: (1 - dt lam_h)^-n
    clean = (1 - 0.01 * LAM_H) ** -5 * np.sin(np.pi * X)
    assert np.abs(u - clean).max() < 1e-4  # noise enters at ~ dt sigma / h per step
    with pytest.raises(StepperError, match="Newton did not converge"):
        get_stepper("implicit_euler")(law, GRID, noisy, max_newton=4, noise_factor=0.0).step(u, t, 0.01)
