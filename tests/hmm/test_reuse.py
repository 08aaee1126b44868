"""Per-query surrogate reuse (hmm.ReuseClosure) through HMMSolver(closure_wrapper=...),
with an explicit stepper (many closure calls at nearby states: what reuse is for).

Problem: start-up flow of a Carreau fluid in a channel, rho u_t = d tau/dy + f
(as in test_channel_flow.py; Bird, Armstrong & Hassager 1987, ch. 4)."""

from __future__ import annotations

import numpy as np
import pytest

from hmm import Budget, Coupler, HMMSolver, ReuseClosure
from macro import DiffusionLaw, Grid1D
from oracles.constitutive import CarreauFluid

FLUID = CarreauFluid(eta0=1.0, eta_inf=0.05, relaxation_time=2.0, power_index=0.4)
RENAME = {"grad_x": "shear_rate", "flux": "shear_stress"}
TOL = 1e-4  # stress units


def _run(wrapper=None, **kwargs):
    law = DiffusionLaw(source=4.0, boundary=0.0, capacity=3.0)
    with Coupler(FLUID, "sync") as coupler:
        solver = HMMSolver(law, Grid1D(16), coupler, rename=RENAME, closure_wrapper=wrapper, stepper="heun")
        ds = solver.run(1.0, dt=0.1, save_every=5, **kwargs)
        return ds, solver


def test_reuse_closure_saves_micro_runs_and_stays_within_its_tolerance():
    plain, _ = _run()
    reused, solver = _run(lambda cc: ReuseClosure(cc, tol=TOL))
    stats = solver.closure.stats
    assert stats["reused"] + stats["fresh"] == stats["queries"] > 0
    runs_plain, runs_reused = int(plain["micro_runs"].sum()), int(reused["micro_runs"].sum())
    print(f"fresh runs: plain {runs_plain}, with reuse {runs_reused}; reuse stats {stats}")
    assert runs_reused < 0.5 * runs_plain  # the fresh runs the solver counts are the wrapped closure's
    assert 0 < runs_reused <= stats["fresh"]  # passed on; repeats within a batch run once
    # a reused stress is off by at most ~4 sigma <= 4 TOL; the shear rate then by at most
    # 4 TOL / min(d tau / d rate) = 4 TOL / eta_inf (Carreau's smallest tangent), and the
    # velocity, an integral over half the channel (length 1/2), by at most 2 TOL / eta_inf
    bound = 2 * TOL / FLUID.eta_inf
    diff = np.abs(reused["u"].values - plain["u"].values).max()
    print(f"max |u_reuse - u_plain| = {diff:.2e} (bound {bound:.1e})")
    assert diff <= bound


def test_reuse_closure_rejects_bad_input_and_checkpoints():
    with Coupler(FLUID, "sync") as coupler:
        law = DiffusionLaw(source=4.0, boundary=0.0, capacity=3.0)
        solver = HMMSolver(law, Grid1D(8), coupler, rename=RENAME)
        with pytest.raises(ValueError, match="tol"):
            ReuseClosure(solver.closure, tol=-1.0)
        with pytest.raises(ValueError, match="min_runs"):
            ReuseClosure(solver.closure, tol=1e-3, min_runs=1)
        with pytest.raises(TypeError, match="closure_wrapper"):
            HMMSolver(law, Grid1D(8), coupler, rename=RENAME, closure_wrapper=3)
    with pytest.raises(NotImplementedError, match="checkpoint"):
        _run(lambda cc: ReuseClosure(cc, tol=TOL), checkpoint="never-written.nc")


def test_quantised_closure_wrapper_repeats_rounding_the_lifted_rates_bit_for_bit():
    """QuantisedClosure through closure_wrapper gives the bits of rounding the
    oracle states themselves (the example's former CouplerClosure subclass)."""
    from hmm.closure import CouplerClosure
    from macro import QuantisedClosure

    step = 0.02
    noisy = CarreauFluid(eta0=1.0, eta_inf=0.05, relaxation_time=2.0, power_index=0.4, noise=0.02)

    class RoundedLift(CouplerClosure):
        def lift(self, points):
            return np.round(super().lift(points) / step) * step

    def run(wrapper=None, replace=False):
        law = DiffusionLaw(source=4.0, boundary=0.0, capacity=3.0, fd_step=0.2)
        with Coupler(noisy, "sync", seed=7) as coupler:
            solver = HMMSolver(law, Grid1D(16), coupler, rename=RENAME, stepper="crank_nicolson",
                               budget=Budget(sampling_steps=16), closure_wrapper=wrapper)
            if replace:
                cc = solver.closure
                solver.closure = RoundedLift(cc.coupler, cc.law_inputs, cc.law_outputs, cc.budget, rename=RENAME)
            return solver.run(1.0, dt=0.1, save_every=2)

    quantised = run(lambda cc: QuantisedClosure(cc, [0.0, step]))
    assert np.array_equal(quantised["u"].values, run(replace=True)["u"].values)
    assert not np.array_equal(quantised["u"].values, run()["u"].values)  # the rounding does act
