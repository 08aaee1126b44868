"""HMM for unidirectional channel flow: rho u_t = d tau/dy + f, no slip at the
walls, shear stress tau(du/dy) from an oracle queried at every face.

Reference: steady Poiseuille flow of a generalised Newtonian fluid: tau(y) =
f (L/2 - y) from the momentum balance, du/dy = tau^{-1}(f (L/2 - y)) from the
flow curve, u(y) = int_0^y du/dy (Bird, Armstrong & Hassager 1987, ch. 4),
here by adaptive quadrature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.integrate import quad

from hmm import Budget, Coupler, HMMSolver
from macro import DiffusionLaw, Grid1D
from oracles.constitutive import CarreauFluid

FLUID = CarreauFluid(eta0=1.0, eta_inf=0.05, relaxation_time=2.0, power_index=0.4)
L, F, RHO = 1.0, 4.0, 3.0
RENAME = {"grad_x": "shear_rate", "flux": "shear_stress"}


def poiseuille(y: np.ndarray, fluid=FLUID) -> np.ndarray:
    rate = lambda s: fluid.shear_rate_for(F * (L / 2 - s))  # noqa: E731
    return np.array([quad(rate, 0.0, yi, epsabs=1e-12, limit=200)[0] for yi in y])


def test_steady_channel_flow_of_shear_thinning_fluid_converges_at_second_order():
    law = DiffusionLaw(source=F, boundary=0.0, capacity=RHO)
    errors = []
    with Coupler(FLUID, "sync") as coupler:
        for n in (16, 32, 64):
            grid = Grid1D(n, (0.0, L))
            u = HMMSolver(law, grid, coupler, rename=RENAME).solve_steady()["u"].values
            errors.append(np.max(np.abs(u - poiseuille(grid.centres[0]))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # shear thinning flattens the profile: Newtonian (eta0) centre speed F L^2 / (8 eta0) = 0.5
    # is exceeded (1.607 here); measured errors 1.7e-2, 4.2e-3, 1.05e-3 (orders 1.99, 2.00)
    assert np.all(orders > 1.8), (errors, orders)
    assert poiseuille(np.array([L / 2]))[0] > 2 * F * L**2 / (8 * FLUID.eta0)


@pytest.mark.parametrize("stepper", ["implicit_euler", "crank_nicolson", "explicit_euler"])
def test_start_up_flow_with_noisy_stress_approaches_the_steady_profile(stepper):
    # noisy stress, as from DPD; finite-difference tangents and Newton iterates use
    # common random numbers, so neither the CFL estimate nor Newton sees the noise
    noisy = CarreauFluid(eta0=1.0, eta_inf=0.05, relaxation_time=2.0, power_index=0.4, noise=0.02)
    law = DiffusionLaw(source=F, boundary=0.0, capacity=RHO)
    grid = Grid1D(24, (0.0, L))
    with Coupler(noisy, "sync", seed=3) as coupler:
        ds = HMMSolver(law, grid, coupler, rename=RENAME, budget=Budget(sampling_steps=16),
                       stepper=stepper).run(8.0, dt=0.1, save_every=10)
    u_end = ds["u"].values[-1]
    steady = poiseuille(grid.centres[0])
    # the stress stderr is what the oracle reports: noise / sqrt(16); results use the oracle's name
    assert np.allclose(ds["shear_stress_stderr"].values[-1], noisy.noise / 4)
    assert "flux" not in ds and ds["shear_stress"].dims == ("time", "x_face")
    # start-up from rest is monotone in time at the centre and ends near the steady profile
    centre = ds["u"].values[:, 12]
    assert np.all(np.diff(centre) > -1e-3)
    assert np.max(np.abs(u_end - steady)) < 0.05 * np.max(steady)


def test_rename_must_name_law_quantities():
    with Coupler(FLUID, "sync") as coupler, pytest.raises(ValueError, match="rename keys"):
        HMMSolver(DiffusionLaw(), Grid1D(8), coupler, rename={"velocity": "shear_rate"})


@dataclass(frozen=True)
class CarreauInPascal(CarreauFluid):
    """CarreauFluid that declares its units (SI)."""

    units = {"shear_rate": "1/s", "shear_stress": "Pa"}


def test_results_name_the_stress_by_the_oracle_and_take_its_units():
    law = DiffusionLaw(source=F, boundary=0.0, capacity=RHO, units={"u": "m/s"})
    oracle = CarreauInPascal(eta0=1.0, eta_inf=0.05, relaxation_time=2.0, power_index=0.4)
    with Coupler(oracle, "sync") as coupler:
        ds = HMMSolver(law, Grid1D(8, (0.0, L)), coupler, rename=RENAME, units={"x": "m"}).solve_steady()
        assert ds["shear_stress"].attrs["units"] == ds["shear_stress_stderr"].attrs["units"] == "Pa"
        assert ds["u"].attrs["units"] == "m/s" and ds["x_face"].attrs["units"] == "m"
        # the stress balances the body force: tau(y) = f (L/2 - y) at the faces (exact for this scheme)
        y = ds["x_face"].values
        np.testing.assert_allclose(ds["shear_stress"].values, F * (L / 2 - y), rtol=1e-8, atol=1e-9)
        # a user's unit overrides the oracle's, by result name (or by the law's name)
        over = HMMSolver(law, Grid1D(8, (0.0, L)), coupler, rename=RENAME, units={"shear_stress": "kPa"})
        assert over.units["shear_stress"] == "kPa"
        assert HMMSolver(law, Grid1D(8, (0.0, L)), coupler, rename=RENAME, units={"flux": "bar"}).units[
            "shear_stress"] == "bar"
