"""HMM for 1D thermo-elastodynamics (strain, momentum, energy) with the Nessyahu-Tadmor scheme.

Reference closure: a Mie-Grueneisen solid (e.g. Menikoff & Plohr, Rev. Mod.
Phys. 61, 75, 1989), sigma = E eps + beta eps^2 - Gamma rho0 (u - u_c(eps)),
u_c = (E eps^2 / 2 + beta eps^3 / 3) / rho0 the cold energy, T = (u - u_c) / c_v.
Linear waves about a state with background stress sigma_b travel at the
adiabatic speed c^2 = (sigma_eps + sigma sigma_u / rho0) / rho0; the scheme is
in conservation form, so total strain, momentum and energy are conserved to
round-off on a periodic domain (Nessyahu & Tadmor, J. Comput. Phys. 87, 408, 1990).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from hmm import Budget, Coupler, Estimate, HMMSolver
from macro import ElasticWaveLaw, Grid1D, NessyahuTadmor, ThermoElasticWaveLaw
from oracles.constitutive import NonlinearElastic

RHO = 1.0


@dataclass(frozen=True)
class MieGruneisen:
    """Analytic (strain, internal_energy) -> (stress, temperature) closure as an oracle."""

    modulus: float = 4.0
    beta: float = 0.0
    gamma: float = 2.0
    heat_capacity: float = 1.0

    inputs = ("strain", "internal_energy")
    outputs = ("stress", "temperature")
    deterministic = True

    def cold_energy(self, e):
        return (0.5 * self.modulus * e**2 + self.beta * e**3 / 3) / RHO

    def run(self, state, *, seed, budget):
        e, u = float(state[0]), float(state[1])
        sigma = self.modulus * e + self.beta * e**2 - self.gamma * RHO * (u - self.cold_energy(e))
        return Estimate(np.array([sigma, (u - self.cold_energy(e)) / self.heat_capacity]), np.zeros(2), math.inf)


def pulse(x, amplitude=1e-3):
    return amplitude * np.exp(-((x - 0.5) ** 2) / (2 * 0.05**2))


def run(oracle, law, n, u0, t_end=0.1, dt=0.01):
    with Coupler(oracle, "sync") as coupler:
        return HMMSolver(law, Grid1D(n), coupler).run(t_end, dt=dt, u0=u0, save_every=1)


def test_total_strain_momentum_and_energy_are_conserved_to_round_off():
    # nonlinear, with a strain pulse, a velocity field and a hot spot: the strain slope grows 3.4x (steepening)
    oracle = MieGruneisen(beta=-40.0, gamma=1.5)
    u0 = {"strain": lambda x, t=0: pulse(x, 0.02), "velocity": lambda x, t=0: 0.01 * np.sin(2 * np.pi * x),
          "energy": lambda x, t=0: 0.3 + pulse(x, 0.1) + 0.5 * (0.01 * np.sin(2 * np.pi * x)) ** 2}
    ds = run(oracle, ThermoElasticWaveLaw(RHO), 128, u0, t_end=0.3)
    for f in ("strain", "velocity", "energy"):
        sums = ds[f].values.sum(axis=1)
        assert np.abs(sums - sums[0]).max() <= 1e-14 * max(1.0, abs(sums[0])) * 128, f
    assert ds["temperature"].shape == ds["stress"].shape == (ds.sizes["time"], 128)
    assert np.all(ds["stress_stderr"].values == 0)


def test_without_thermal_coupling_the_strain_and_velocity_equal_the_elastic_law_bit_for_bit():
    u0 = {"strain": lambda x, t=0: pulse(x, 0.01), "energy": 0.2}
    hot = run(MieGruneisen(beta=-40.0, gamma=0.0), ThermoElasticWaveLaw(RHO), 64, u0)
    cold = run(NonlinearElastic(4.0, beta=-40.0), ElasticWaveLaw(RHO), 64, {"strain": u0["strain"]})
    assert np.array_equal(hot["strain"].values, cold["strain"].values)
    assert np.array_equal(hot["velocity"].values, cold["velocity"].values)


def test_linear_waves_travel_at_the_adiabatic_not_the_isothermal_speed():
    # background u_b = 0.25, Gamma = 2: sigma_b = -0.5, c_ad^2 = E + Gamma^2 rho0 u_b = 5, c_iso^2 = E = 4.
    # Adiabatic initial data (du = sigma_b d eps / rho0, v = 0) split into two halves at +-c_ad (d'Alembert).
    oracle, ub = MieGruneisen(gamma=2.0), 0.25
    sigma_b = -2.0 * RHO * ub
    u0 = {"strain": lambda x, t=0: pulse(x), "energy": lambda x, t=0: ub + sigma_b * pulse(x) / RHO}
    ds = run(oracle, ThermoElasticWaveLaw(RHO), 400, u0)
    x, t = ds["x"].values, float(ds.time[-1])

    def dalembert(c):
        return 0.5 * (pulse(np.mod(x - c * t, 1.0)) + pulse(np.mod(x + c * t, 1.0)))

    err_ad = np.abs(ds["strain"].values[-1] - dalembert(math.sqrt(5.0))).max()
    err_iso = np.abs(ds["strain"].values[-1] - dalembert(2.0)).max()
    # measured: 2.9e-6 against 1.4e-4 (pulse amplitude 1e-3)
    assert err_ad < 1e-5 and err_iso > 20 * err_ad, (err_ad, err_iso)
    law = ThermoElasticWaveLaw(RHO)
    U = np.stack([np.zeros(8), np.zeros(8), np.full(8, ub)])
    assert law.max_speed(U, lambda p: _direct(oracle, p)) == pytest.approx(math.sqrt(5.0), rel=1e-3)


def _direct(oracle, points):
    from macro import ClosureResult

    rows = [oracle.run(p, seed=0, budget=Budget()) for p in points]
    return ClosureResult(np.array([r.mean for r in rows]), np.zeros((len(rows), 2)), np.zeros(len(rows)))


def test_md_closure_conserves_energy_to_round_off():
    from oracles import NVEChain

    oracle = NVEChain(bond="lj", n_atoms=16, sample_every=5, blocks=10)
    rho0 = oracle.density
    u_b = float(oracle.ground_state_energy(0.0)) + 0.02  # T ~ 0.02
    u0 = {"strain": lambda x, t=0: 0.01 * np.exp(-((x - 0.5) ** 2) / 0.02), "energy": u_b}
    law = ThermoElasticWaveLaw(rho0, sound_speed=9.0)  # ~ 1.1 x the T = 0 long-wave speed a0 sqrt(phi'') = 8.5
    with Coupler(oracle, "sync", seed=3) as coupler:
        ds = HMMSolver(law, Grid1D(12, (0.0, 12.0)), coupler, budget=Budget(200, 400)).run(
            0.4, dt=0.2, u0=u0, save_every=1)
    totals = np.array([[float(ds[f].values[k].sum()) for f in law.fields] for k in range(ds.sizes["time"])])
    assert np.abs(totals - totals[0]).max() < 1e-13 * np.abs(totals[0]).max() * 12
    temperature = ds["temperature"].values
    assert np.all(temperature > 0.005) and np.all(temperature < 0.05)
    assert np.all(ds["stress_stderr"].values > 0) and ds.attrs["micro_runs"] > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`outputs` must start with 'stress'"):
        ThermoElasticWaveLaw(outputs=("temperature",))
    with pytest.raises(ValueError, match="`density`"):
        ThermoElasticWaveLaw(-1.0)
    stepper = NessyahuTadmor(ThermoElasticWaveLaw(), Grid1D(8), lambda p: _direct(MieGruneisen(), p))
    with pytest.raises(ValueError, match=r"shape \(3, 8\)"):
        stepper.step(np.zeros((2, 8)), 0.0, 0.01)
    with pytest.raises(TypeError, match="multi-field law"):
        NessyahuTadmor(object(), Grid1D(8), lambda p: None)


def test_tabulated_closure_is_exact_on_bilinear_functions_and_reuses_nodes():
    from macro import ClosureResult, TabulatedClosure

    calls = []

    def closure(points):  # f = (1 + 2x - y + 3xy, x y) with stderr 0.1, 0.2: bilinear, so interpolation is exact
        calls.append(len(points))
        x, y = points[:, 0], points[:, 1]
        return ClosureResult(np.column_stack([1 + 2 * x - y + 3 * x * y, x * y]),
                             np.tile([0.1, 0.2], (len(points), 1)), np.full(len(points), 0.5))

    tab = TabulatedClosure(closure, [0.1, 0.2], origin=[0.05, 0.0])
    rng = np.random.default_rng(0)
    pts = rng.uniform([0.05, 0.0], [0.25, 0.4], size=(50, 2))  # inside 2 x 2 lattice cells: 9 nodes
    res = tab(pts)
    assert np.allclose(res.mean, closure(pts).mean, rtol=0, atol=1e-13)
    assert len(tab) == tab.stats["nodes"] == 9 and calls[0] == 9 and tab.stats["queries"] == 50
    # stderr of the weighted nodes: sqrt(sum w^2) s, between s / 2 (cell centre) and s (a node)
    assert np.all(res.stderr[:, 0] <= 0.1 + 1e-15) and np.all(res.stderr[:, 0] >= 0.05 - 1e-15)
    assert res.cost_s.sum() == pytest.approx(9 * 0.5)
    again = tab(0.5 * (pts[:10] + pts[10:20]))  # same lattice cells: no new node, no micro cost
    assert tab.stats["nodes"] == 9 and again.cost_s.sum() == 0.0
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        tab(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`spacing`"):
        TabulatedClosure(closure, [0.1, -1.0])
