"""The ConservationLaw protocol: built-in laws follow it, and user-written laws
work with every stepper of their form and with solve_steady.

Closed forms: for du/dt = s - lam u (a linear relaxation per cell) the theta
method with step dt is the linear recursion u_{n+1} - u* = g (u_n - u*) with
u* = s / lam and g = (1 - (1 - theta) lam dt) / (1 + theta lam dt), and
forward Euler with h = dt / m substeps has g = (1 - lam h)^m; Heun's
g = (1 - lam h + (lam h)^2 / 2)^m (e.g. Hairer, Norsett & Wanner, Solving
ODEs I, sec. II.1)."""

import numpy as np
import pytest
import scipy.sparse as sp

from macro.closure import column_copies, forward_differences

from macro import (STEPPERS, ClosureResult, ConservationLaw, DiffusionLaw, ElasticWaveLaw, Evaluation,
                   FluxFormLaw, Grid1D, SemiDiscreteLaw, ThermoElasticWaveLaw, get_stepper, solve_steady)


class LinearRate:
    """Closure r = lam(x) u with its exact tangent (inputs (x, u), output rate)."""

    def __init__(self, lam):
        self.lam = lam

    def __call__(self, points, *, seed_rows=None):
        rate = self.lam(points[:, 0]) * points[:, 1]
        return ClosureResult(rate[:, None], np.zeros((len(points), 1)), np.zeros(len(points)))

    def tangent(self, points):
        return self.lam(points[:, 0])[:, None, None]


class Relaxation:
    """A user-written semi-discrete law: du/dt = s - r(x, u) in every cell, the
    rate r from the closure at (cell centre, cell value)."""

    form = "semi_discrete"
    fields = ("u",)
    units = {"u": "mol/m^3"}

    def __init__(self, source=0.0):
        self.source = source

    def closure_inputs(self, grid):
        return ("x", "u")

    def closure_outputs(self, grid):
        return ("rate",)

    def closure_points(self, grid, u, t):
        return np.column_stack([grid.centres[0], np.asarray(u, dtype=float)])

    def evaluate(self, grid, u, t, closure, *, seed_points=None):
        points = self.closure_points(grid, u, t)
        res = closure(points, seed_rows=seed_points)
        mean, stderr = np.asarray(res.mean).reshape(-1, 1), np.asarray(res.stderr).reshape(-1, 1)
        return Evaluation(points, mean, stderr, np.asarray(res.cost_s), t,
                          du_dt=self.source - mean[:, 0], rhs_stderr=stderr[:, 0])

    @staticmethod
    def _dr_du(points, closure, seed_points=None):
        if hasattr(closure, "tangent"):  # the protocol's optional exact tangent
            return closure.tangent(points)[:, 0, 0]
        stacked, steps = column_copies(points, 1, 1e-6)  # else forward differences in u, common seeds
        seeds = points if seed_points is None else seed_points
        res = closure(stacked, seed_rows=np.vstack([seeds, seeds]))
        return forward_differences(np.asarray(res.mean).reshape(len(stacked), -1), steps)[:, 0, 0]

    def jacobian(self, grid, u, t, closure, *, seed_points=None):
        ev = self.evaluate(grid, u, t, closure, seed_points=seed_points)
        return sp.diags(-self._dr_du(ev.points, closure, seed_points)).tocsr(), ev

    def max_rate(self, grid, u, t, closure):
        # forward Euler on du/dt = -lam u is stable for dt <= 2 / lam
        return 0.5 * float(self._dr_du(self.closure_points(grid, u, t), closure).max())

    def forcing_scale(self, grid, t):
        return abs(self.source)

    def record(self, grid, evaluation):
        return {"rate": (("x",), evaluation.mean[:, 0], evaluation.stderr[:, 0])}


class LinearSystem:
    """A user-written flux-form law U_t + (A U)_X = 0, the flux A U from the
    closure at the cell states; characteristic speeds +-sqrt(-A01 A10)."""

    form = "flux"
    fields = ("strain", "velocity")
    units = {}

    def __init__(self, speed):
        self.speed = speed

    def closure_inputs(self, grid):
        return self.fields

    def closure_outputs(self, grid):
        return ("F_strain", "F_velocity")

    def closure_points(self, grid, U, t):
        return np.asarray(U, dtype=float).T

    def evaluate(self, grid, U, t, closure, *, seed_points=None):
        points = self.closure_points(grid, U, t)
        res = closure(points, seed_rows=seed_points)
        return Evaluation(points, res.mean, res.stderr, res.cost_s, t, flux=np.asarray(res.mean).T)

    def max_speed(self, U, closure):
        return self.speed

    def record(self, grid, evaluation):
        return {n: (("x",), evaluation.mean[:, k], evaluation.stderr[:, k])
                for k, n in enumerate(self.closure_outputs(grid))}


GRID = Grid1D(20)
LAM = lambda x: 1.0 + x  # noqa: E731  (rates 1..2 across the cells)


def test_built_in_laws_follow_the_protocol():
    for law in (DiffusionLaw(), Relaxation()):
        assert isinstance(law, ConservationLaw) and isinstance(law, SemiDiscreteLaw) and law.form == "semi_discrete"
    for law in (ElasticWaveLaw(), ThermoElasticWaveLaw(), LinearSystem(1.0)):
        assert isinstance(law, ConservationLaw) and isinstance(law, FluxFormLaw) and law.form == "flux"
    assert not isinstance(object(), ConservationLaw)


@pytest.mark.parametrize("name, theta", [("implicit_euler", 1.0), ("crank_nicolson", 0.5)])
def test_user_law_with_the_implicit_steppers_matches_the_theta_recursion(name, theta):
    law, closure = Relaxation(source=0.5), LinearRate(LAM)
    stepper = get_stepper(name)(law, GRID, closure)
    lam, dt = LAM(GRID.centres[0]), 0.1
    u0 = np.ones(GRID.n_cells)
    u, t = u0, 0.0
    for _ in range(10):
        res = stepper.step(u, t, dt)
        u, t = res.u, res.t
    star = 0.5 / lam
    g = (1 - (1 - theta) * lam * dt) / (1 + theta * lam * dt)
    np.testing.assert_allclose(u, star + g**10 * (u0 - star), rtol=1e-12)
    assert stepper.n_jacobians == 1 and res.newton_iterations == 1  # linear: Jacobian reused, one Newton step


@pytest.mark.parametrize("name", ["explicit_euler", "heun"])
def test_user_law_with_the_explicit_steppers_subcycles_at_its_rate(name):
    law, closure = Relaxation(), LinearRate(LAM)
    stepper = get_stepper(name)(law, GRID, closure, cfl=0.9)
    dt = 3.0  # far above the stability limit 2 / max(lam) ~ 1
    res = stepper.step(np.ones(GRID.n_cells), 0.0, dt)
    m = int(np.ceil(dt / (0.9 / (0.5 * LAM(GRID.centres[0]).max()))))
    assert res.n_substeps == m
    z = LAM(GRID.centres[0]) * dt / m
    g = (1 - z) ** m if name == "explicit_euler" else (1 - z + z**2 / 2) ** m
    np.testing.assert_allclose(res.u, g, rtol=1e-12)


def test_user_flux_law_with_nessyahu_tadmor_repeats_the_elastic_law():
    """Linear elasticity sigma = E eps written as the user's U_t + (A U)_X = 0 with
    A = [[0, -1], [-E / rho0, 0]]: the central scheme sees the same fluxes."""
    E, grid = 4.0, Grid1D(64)
    A = np.array([[0.0, -1.0], [-E, 0.0]])

    def system(points, *, seed_rows=None):  # F = A U at the cell states
        return ClosureResult(points @ A.T, np.zeros_like(points), np.zeros(len(points)))

    def stress(points, *, seed_rows=None):
        return ClosureResult(E * points, np.zeros_like(points), np.zeros(len(points)))

    U0 = np.stack([0.01 * np.exp(-((grid.centres[0] - 0.5) ** 2) / 0.005), np.zeros(64)])
    user = get_stepper("nessyahu_tadmor")(LinearSystem(np.sqrt(E)), grid, system)
    elastic = get_stepper("nessyahu_tadmor")(ElasticWaveLaw(1.0), grid, stress)
    U, V = U0, U0
    for k in range(5):
        U, V = user.step(U, 0.02 * k, 0.02).U, elastic.step(V, 0.02 * k, 0.02).U
    np.testing.assert_allclose(U, V, rtol=0, atol=1e-15)
    assert np.abs(U.sum(axis=1) - U0.sum(axis=1)).max() < 1e-15  # conservation form


def test_solve_steady_takes_a_user_law():
    res = solve_steady(Relaxation(source=0.5), GRID, LinearRate(LAM))
    np.testing.assert_allclose(res.u, 0.5 / LAM(GRID.centres[0]), rtol=1e-12)
    assert res.iterations == 1


def test_steppers_refuse_laws_of_another_form_naming_the_ones_that_apply():
    with pytest.raises(ValueError, match=r"'implicit_euler' applies to .*semi-discrete.*use one of \['nessyahu_tadmor'\]"):
        get_stepper("implicit_euler")(LinearSystem(1.0), GRID, lambda p: None)
    with pytest.raises(ValueError, match=r"use one of \['crank_nicolson', 'explicit_euler', 'heun', 'implicit_euler'\]"):
        STEPPERS["nessyahu_tadmor"](Relaxation(), GRID, LinearRate(LAM))
    with pytest.raises(TypeError, match="following macro.ConservationLaw; got object"):
        get_stepper("heun")(object(), GRID, LinearRate(LAM))

    class NoJacobian:  # the common protocol, form semi_discrete, but no jacobian/max_rate/forcing_scale
        form, fields, units = "semi_discrete", ("u",), {}
        closure_inputs = closure_outputs = closure_points = evaluate = record = Relaxation.record

    with pytest.raises(TypeError, match="does not implement macro.SemiDiscreteLaw"):
        get_stepper("implicit_euler")(NoJacobian(), GRID, LinearRate(LAM))
