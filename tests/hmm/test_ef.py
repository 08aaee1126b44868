"""Equation-free toolkit on the fast/slow system, whose averaged equation is
known in closed form (oracles.ef_models.fast_slow; Pavliotis & Stuart 2008, ch. 10):
dy/dt = F(y; lambda) = lambda + (1 - s^2) y - y^3/3, folds at y = -+1,
lambda = +-2/3 for s = 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hmm.ef import (ContinuationError, ProjectiveStabilityError, check_stability, coarse_fixed_point,
                    coarse_stepper, continuation, projective_integrate)
from oracles.ef_models.fast_slow import FastSlowSDE


def stepper_for(model, **kw):
    return coarse_stepper(model.lift, model.micro, model.restrict, coarse_names=("y",),
                          param_names=("lambda",), **kw)


@pytest.mark.parametrize("method, order", [("pfe", 1), ("prk2", 2)])
def test_projective_integration_reaches_averaged_equation_at_expected_order(method, order):
    # eps = 1e-7: outer steps of 0.025-0.1 are 2.5e5-1e6 times the fast scale
    model = FastSlowSDE(eps=1e-7, lift_x=0.0)
    lam, y0 = 0.2, 0.5
    exact = solve_ivp(lambda t, y: model.averaged_rhs(y, lam), (0, 1), [y0], rtol=1e-12, atol=1e-14).y[0, -1]
    errors = []
    with stepper_for(model) as stepper:
        for M in (25_000, 50_000, 100_000):
            res = projective_integrate(stepper, [y0], 1.0, params=[lam], inner_dt=1e-6, inner_steps=10,
                                       projection_steps=M, method=method)
            assert res.t[-1] == pytest.approx(1.0)
            errors.append(abs(res.U[-1, 0] - exact))
    orders = np.log2(np.array(errors[1:]) / np.array(errors[:-1]))
    # measured: pfe errors 1.5e-3, 3.1e-3, 6.8e-3 (orders 1.06, 1.12);
    #           prk2 errors 7.5e-5, 3.0e-4, 1.2e-3 (orders 1.98, 1.99)
    assert np.all(np.abs(orders - order) < 0.2), (errors, orders)


def test_projective_stability_check_names_the_fix():
    check_stability(k=10, M=100, rho_fast=0.5)  # 0.5^10 * (101*0.5 + 100) = 0.147 <= 1
    with pytest.raises(ProjectiveStabilityError, match=r"k=2 .* M=100 .* use k >= 8"):
        check_stability(k=2, M=100, rho_fast=0.5)


@pytest.mark.parametrize("eps", [1e-4, 1e-5])
def test_coarse_fixed_point_and_eigenvalue_converge_in_eps(eps):
    model = FastSlowSDE(eps=eps, lift_x=None)  # lift onto the slow manifold
    with stepper_for(model) as stepper:
        fp = coarse_fixed_point(stepper, [-2.0], [-1.0], horizon=0.05)
    y = fp.U[0]
    assert abs(model.averaged_rhs(y, -1.0)) < 1e-8 and fp.residual < 1e-8 and fp.stable
    # the coarse eigenvalue log(mu)/T approaches F'(y*) = 1 - y*^2 at rate O(eps):
    # measured error 1.25e-3 at eps=1e-4, 9.1e-5 at eps=1e-5
    assert abs(fp.eigenvalues[0].real - (1 - y**2)) < 20 * eps


def test_continuation_traces_both_folds_and_labels_stability():
    model = FastSlowSDE(eps=1e-5, lift_x=None)
    with stepper_for(model) as stepper:
        fp = coarse_fixed_point(stepper, [-2.0], [-1.0], horizon=0.05)
        branch = continuation(stepper, fp.U, -1.0, horizon=0.05, ds=0.1, n_points=80, p_range=(-1.0, 1.0))
    folds = branch.fold_points()
    assert len(folds) == 2
    (p1, y1), (p2, y2) = ((p, u[0]) for p, u in folds)
    # exact folds of lambda + y - y^3/3 = 0: (lambda, y) = (2/3, -1) and (-2/3, 1);
    # the coarse map differs from the averaged flow by O(eps) = 1e-5 (measured: lambda
    # within 1e-8, y within 3e-6)
    assert abs(p1 - 2 / 3) < 1e-4 and abs(y1 + 1) < 1e-3
    assert abs(p2 + 2 / 3) < 1e-4 and abs(y2 - 1) < 1e-3
    y = np.asarray(branch.U)[:, 0]
    far = np.abs(np.abs(y) - 1) > 0.05  # away from the folds, where F' = 1 - y^2 = 0
    assert np.array_equal(branch.stable[far], (np.abs(y) > 1)[far])  # middle branch unstable
    ds = branch.to_xarray()
    assert "lambda" in ds.coords and int(ds["stable"].sum()) == int(branch.stable.sum())


def _lift(U, p, rng):
    return np.array([U[0]])


def _micro_without_fixed_point_above_half(state, p, duration, rng):
    """dy/dt = lambda - y below lambda = 0.5; dy/dt = 1 (no steady state) above."""
    y = state[0]
    if p[0] < 0.5:
        return np.array([p[0] + (y - p[0]) * np.exp(-duration)])
    return np.array([y + duration])


def _restrict(state):
    return state.copy()


def test_continuation_failure_names_parameter_and_keeps_branch():
    stepper = coarse_stepper(_lift, _micro_without_fixed_point_above_half, _restrict,
                             coarse_names=("y",), param_names=("lambda",))
    with pytest.raises(ContinuationError, match=r"corrector failed at lambda=0\.(49|50)\d*.*residual") as info:
        continuation(stepper, [0.0], 0.0, horizon=0.1, ds=0.05, n_points=50)
    branch = info.value.branch
    assert len(branch.params) >= 5 and max(branch.params) < 0.5
    assert np.allclose(np.asarray(branch.U)[:, 0], branch.params, atol=1e-7)  # y* = lambda


def test_stepper_validates_shapes():
    with stepper_for(FastSlowSDE()) as stepper:
        with pytest.raises(ValueError, match=r"`U` must have 1 columns"):
            stepper.run(np.zeros((2, 3)), [0.0])
        with pytest.raises(ValueError, match=r"`params` must hold 1 values"):
            stepper.run([0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="`replicas` must be an int >= 1"):
        stepper_for(FastSlowSDE(), replicas=0)
    with pytest.raises(ValueError, match="`eps` must be > 0"):
        FastSlowSDE(eps=-1.0)


def _lift_unit_interval(U, p, rng):
    if not 0.0 <= U[0] <= 1.0:
        raise ValueError(f"coverage outside [0, 1]: {U[0]}")
    return np.array([U[0]])


def _decay_towards_p(state, p, duration, rng):
    return np.array([p[0] + (state[0] - p[0]) * np.exp(-duration)])


def test_bounds_keep_bursts_admissible_at_the_edge():
    from hmm.ef.fixed_point import coarse_map_jacobian

    stepper = coarse_stepper(_lift_unit_interval, _decay_towards_p, _restrict, coarse_names=("c",),
                             param_names=("p",))
    with pytest.raises(Exception, match="outside"):  # an unguarded FD step leaves [0, 1]
        coarse_map_jacobian(stepper, [1.0], [0.5], 0.3, 1e-3)
    phi, jac = coarse_map_jacobian(stepper, [1.0], [0.5], 0.3, 1e-3, bounds=(0.0, 1.0))
    assert jac[0, 0] == pytest.approx(np.exp(-0.3), rel=1e-9)  # backward step, same slope
    fp = coarse_fixed_point(stepper, [0.99], [1.0], horizon=0.3, bounds=(0.0, 1.0))
    assert fp.U[0] == pytest.approx(1.0, abs=1e-8) and fp.stable  # fixed point on the bound


# -- adaptive replicas (the statistical indicator decides "sample more") ------------------
def _noisy_lift(U, p, rng):
    return np.array(U, dtype=float)


def _noisy_micro(state, p, duration, rng):
    # heteroscedastic noise: standard deviation 0.01 + |U| (known exactly)
    return state + (0.01 + np.abs(state)) * rng.standard_normal(state.shape)


def _noisy_restrict(state):
    return np.asarray(state, dtype=float)


def test_coarse_stepper_target_stderr_adds_replicas_where_the_noise_is():
    from hmm.ef import coarse_stepper

    U = np.array([[0.0], [0.5], [2.0]])
    target = 0.05
    with coarse_stepper(_noisy_lift, _noisy_micro, _noisy_restrict, coarse_names=("u",), replicas=8,
                        target_stderr=target, max_replicas=4096, seed=1) as st:
        rec = st.run(U, (), (1.0,))
        again = st.run(U, (), (1.0,))
    sigma = 0.01 + np.abs(U[:, 0])
    R = rec.replicas_per_state
    # the quiet state keeps its 8 replicas; the others get about (sigma / target)^2 (the
    # spread of 8 replicas estimates sigma to ~25%, so allow a factor 2.5 either way)
    assert R[0] == 8 and np.all(np.diff(R) > 0)
    assert np.all((R[1:] > (sigma[1:] / target) ** 2 / 2.5) & (R[1:] < 2.5 * (sigma[1:] / target) ** 2))
    # the reported stderr is the spread of the replicas; the mean is within 4 of them of U
    assert np.all(np.abs(rec.mean[:, 0, 0] - U[:, 0]) < 4 * rec.stderr[:, 0, 0])
    assert np.allclose(rec.stderr[:, 0, 0], sigma / np.sqrt(R), rtol=0.5)
    assert np.array_equal(rec.mean, again.mean)  # replica k keeps its seed: same bits
    with pytest.raises(ValueError, match="target_stderr"):
        coarse_stepper(_noisy_lift, _noisy_micro, _noisy_restrict, coarse_names=("u",), replicas=1,
                       target_stderr=0.1)


def test_replica_policy_object_is_what_the_keywords_build():
    from adaptivity import StderrTargetPolicy

    U = np.array([[0.0], [0.5], [2.0]])
    pieces = (_noisy_lift, _noisy_micro, _noisy_restrict)
    policy = StderrTargetPolicy(0.05, max_replicas=4096)
    with coarse_stepper(*pieces, coarse_names=("u",), replicas=8, policy=policy, seed=1) as st:
        rec = st.run(U, (), (1.0,))
        assert st.target_stderr == 0.05 and st.max_replicas == 4096
        assert st.calls == 2  # the first round and the policy's extra round
    with coarse_stepper(*pieces, coarse_names=("u",), replicas=8, target_stderr=0.05, max_replicas=4096,
                        seed=1) as st:
        old = st.run(U, (), (1.0,))
    assert rec.mean.tobytes() == old.mean.tobytes() and np.array_equal(rec.replicas_per_state,
                                                                        old.replicas_per_state)
    with pytest.raises(ValueError, match="needs `replicas` >= 2"):
        coarse_stepper(*pieces, coarse_names=("u",), replicas=1, policy=policy)
    with pytest.raises(TypeError, match="either `policy` or `target_stderr`"):
        coarse_stepper(*pieces, coarse_names=("u",), replicas=2, policy=policy, target_stderr=0.1)
    with pytest.raises(TypeError, match="propose"):
        coarse_stepper(*pieces, coarse_names=("u",), replicas=2, policy=0.05)


# -- composition: a stepper on a Coupler, the compatibility forms, the ledger -------------
def test_models_satisfy_the_protocols():
    from hmm.ef import CoarseModel, ToothModel
    from oracles import LatticeKMC
    from oracles.kmc import BistableAB, LatticeGas
    from oracles.kmc.meanfield import MeanFieldFlow
    from oracles.kmc.tooth import KMCTooth
    from oracles.ef_models.tooth_diffusion import DiffusionTooth

    coarse = (FastSlowSDE(), LatticeKMC(model=BistableAB(), inputs=("coverage_A", "coverage_B", "beta")),
              MeanFieldFlow(BistableAB(), ("beta",)))
    assert all(isinstance(m, CoarseModel) for m in coarse)
    assert all(isinstance(m, ToothModel) for m in (DiffusionTooth(), KMCTooth(LatticeGas())))
    assert not isinstance(_lift, CoarseModel)


def test_stepper_on_a_coupler_has_the_bits_of_the_compatibility_forms_and_reads_the_ledger():
    from hmm import Coupler
    from hmm.ef import CoarseBurst, CoarseStepper

    model = FastSlowSDE(eps=1e-4, sigma=0.6, lift_x=None)  # noisy: the seeds matter
    U, p, R = [[-1.0], [0.3], [1.5]], [[0.1]], 4
    names = dict(coarse_names=("y",), param_names=("lambda",))
    with Coupler(CoarseBurst.from_model(model, **names, record_times=(0.05,)), "sync", seed=3,
                 cache=True) as coupler:
        coupler.evaluate([[0.0, 0.0]])  # work done before the stepper is not the stepper's
        with CoarseStepper(model, coupler, replicas=R) as stepper:
            new = [stepper.run(U, p, (0.05,)), stepper.run(U, p, (0.01, 0.05), common_random_numbers=1)]
            acc = stepper.accounting
            assert (acc.fresh_runs, acc.batches, stepper.calls) == (2 * 3 * R, 2, 2)
            assert stepper.micro_seconds == acc.micro_seconds > 0
            assert new[0].cost_s > 0
            stepper.run(U, p, (0.05,))  # the cache answers a repeat, and the ledger says so
            assert stepper.accounting.fresh_runs == 2 * 3 * R and stepper.accounting.cached_answers == 3 * R
        assert stepper.accounting.fresh_runs == 2 * 3 * R  # closing the sibling keeps its count
        assert coupler.evaluate([[0.0, 0.0]]).cached.all()  # the caller's Coupler is left open
    legacy = [coarse_stepper(model.lift, model.micro, model.restrict, **names, seed=3, replicas=R),
              coarse_stepper(model, **names, seed=3, replicas=R)]
    for stepper in legacy:
        with stepper:
            old = [stepper.run(U, p, (0.05,)), stepper.run(U, p, (0.01, 0.05), common_random_numbers=1)]
        for a, b in zip(new, old):
            assert a.mean.tobytes() == b.mean.tobytes() and a.stderr.tobytes() == b.stderr.tobytes()
    assert np.all(new[1].stderr > 0)


def test_stepper_construction_errors_name_the_fix():
    from hmm import Coupler
    from hmm.ef import CoarseBurst, CoarseStepper

    model = FastSlowSDE()
    with Coupler(CoarseBurst.from_model(model, ("y",), ("lambda",)), "sync") as coupler:
        with pytest.raises(TypeError, match="give the Coupler options .*'seed'"):
            CoarseStepper(model, coupler, seed=1)
        with pytest.raises(ValueError, match="`model` must be the CoarseModel"):
            CoarseStepper(FastSlowSDE(eps=0.5), coupler)
        with pytest.raises(ValueError, match="`coarse_names`"):
            CoarseStepper(model, coupler, coarse_names=("x",))
        assert CoarseStepper(FastSlowSDE(), coupler).coarse_names == ("y",)  # an equal model will do
    with pytest.raises(TypeError, match="CoarseBurst.from_model"):
        CoarseBurst.from_model(object(), ("y",))
    with pytest.raises(TypeError, match="`coarse_names` is required"):
        CoarseStepper(model)


def test_ef_errors_are_framework_errors():
    from hmm import HMMError
    from hmm.ef import CoarseNewtonError

    assert issubclass(ProjectiveStabilityError, HMMError) and issubclass(ProjectiveStabilityError, ValueError)
    assert issubclass(CoarseNewtonError, HMMError) and issubclass(CoarseNewtonError, RuntimeError)
    assert issubclass(ContinuationError, HMMError) and issubclass(ContinuationError, RuntimeError)
