r"""HMM channel flow with DPD shear stress, against a direct DPD of the whole walled channel.

Macro (HMM): unidirectional flow between two walls,

    rho du/dt = d tau / dy + f,    u = 0 at the effective walls,

finite volumes (macro.DiffusionLaw with capacity=rho; the law's gradient is
the oracle's ``shear_rate`` and its flux the ``shear_stress``). At every face
of every Newton iterate / time step the shear stress comes from a fresh
Lees-Edwards DPD run (oracles.DPD, a small periodic box) at that face's
shear rate, sent out through hmm.Coupler on the embedded Dask cluster. No
constitutive law is assumed; the coupler cache answers repeated identical
states for free.

Direct: the whole channel simulated bead by bead (oracles.dpd.channel:
frozen-bead walls + bounce-back, Revenga et al. 1999, Pivkin & Karniadakis
2005) with the same fluid (rho = 3, a = 25, gamma = 4.5, kT = 1, dt = 0.04)
and the same body force f = rho g: the steady profile (time and block
averaged) and the start-up from rest (ensemble of replicas).

Wall slip from a near-wall micro model: the bulk closure knows nothing about
the few rc next to a wall, so the macro walls carry a Navier slip condition
u = l du/dn (macro.DiffusionLaw(slip_length=l)) whose slip length comes from
a second oracle, oracles.DPDWallSlip: a Couette cell of the same fluid
between the same frozen-bead walls, queried at the macro wall shear rate
(Ren & E 2005 use MD near the walls for the boundary condition in the same
spirit). The two are coupled by a fixed point: HMM solve with l = 0 -> wall
shear rate -> Couette slip length -> HMM solve with that l -> ... until the
cell's answer no longer changes l significantly (see hmm_steady_with_slip). Nothing is fitted to the direct run; its own Navier slip length
(the bulk parabola's u / u' at the wall planes) is printed as a check of the
near-wall model. For the simple fluid l is a fraction of rc; for the polymer
solution (chains depleted near the walls) it is ~1.2 rc and decides the
profile.

Cost: the direct run grows with the width H (beads ~ H, time to reach the
steady state ~ rho H^2 / eta) while the HMM micro cost does not (same number
of macro cells, same shear rates when g ~ 1/H). Measured (benchmarks/RESULTS.md):
the steady HMM is about as fast as the direct run at H = 10 and ~5x faster at
H = 20, but the start-up HMM (20 implicit steps of fresh micro runs) is ~5x
SLOWER than the direct ensemble at H = 10; the width scan prints the costs.

Micro budgets: the steady Newton solver accepts an iterate whose residual is
below the propagated stress noise, so that noise must stay below the body
force per cell (c(n) sqrt 2 stderr(tau) / h < f): 6^3 boxes, 2000 sampling steps
(stderr ~0.009) for f = 0.09 and h = 1. Finite-difference tangents use a
shear-rate step of 0.2: DPD trajectories decorrelate, so common random numbers
do not rescue small steps. The start-up (20 Crank-Nicolson steps, ~450 micro
runs) uses cheaper 5^3 boxes with 1000 steps.

--polymer: the polymer solution of validation.dpd (80% of the beads in
N = 20 Gaussian-spring chains, eta ~ 4.5 and shear thinning), steady flow
only, lateral edges of 8 rc (a chain's end-to-end distance is ~4.4 rc: in a
6 rc box the chains meet their own periodic images and the measured slip
changes). The chains are depleted within ~1-2 rc of the walls: the slip
condition from the near-wall Couette cell carries that (see
docs/design-notes.md).

Run: python examples/dpd_channel_flow.py [--quick] [--polymer] [--out results/dpd_channel_flow]
Prints the L2 errors and wall-time ratios; writes <out>.png and <out>.nc.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

RENAME = {"grad_x": "shear_rate", "flux": "shear_stress"}


@dataclass(frozen=True)
class Settings:
    """Sizes of one run (DPD units: rc, tau = rc sqrt(m / kT))."""

    width: float = 10.0  # H, wall plane to wall plane
    body_force: float = 0.03  # g per bead; f = rho g = 0.09, wall shear rate ~ 0.53
    lateral: float = 6.0  # Lx = Lz of the direct channel
    bins: int = 20
    direct_eq: float = 150.0  # ~4 momentum diffusion times rho H^2 / (pi^2 eta) at H = 10
    direct_sample: float = 800.0
    blocks: int = 10
    cells: int = 10  # macro cells
    micro_box: float = 6.0
    micro_eq: int = 250  # steps per micro run
    micro_sample: int = 2000
    startup_box: float = 5.0  # cheaper micro runs for the many start-up steps (stress stderr ~0.02)
    startup_sample: int = 1000
    startup_times: tuple[float, ...] = (4.0, 10.0, 20.0, 40.0)
    startup_dt: float = 2.0
    startup_replicas: int = 16
    scan_widths: tuple[float, ...] = (20.0,)  # extra widths (steady only) for the cost scan
    slip_height: float = 10.0  # the near-wall Couette cell (oracles.DPDWallSlip)
    slip_lateral: float = 6.0
    slip_exclude: float = 1.5  # bins within this of a wall left out of the cell's bulk fit
    slip_eq: int = 2500
    slip_sample: int = 20000
    slip_snap: float = 0.02  # the cell is queried at wall shear rates rounded to this grid
    slip_iterations: int = 4  # most fixed-point passes (HMM solve, slip query)
    seed: int = 1
    polymer: bool = False  # the polymer solution of validation.dpd.POLYMER instead of the simple fluid
    reuse_step: float = 0.02  # also run HMM with shear rates snapped to this grid (0: off); see snap_wrapper


QUICK = Settings(direct_eq=100.0, direct_sample=300.0, cells=5, micro_box=5.0, micro_sample=1000, startup_box=4.0,
                 startup_times=(4.0, 12.0, 24.0), startup_dt=4.0, startup_replicas=6, scan_widths=(),
                 slip_height=8.0, slip_lateral=5.0, slip_eq=1000, slip_sample=5000, slip_iterations=2)


# polymer solution (80% of the beads in N = 20 Gaussian-spring chains, eta ~ 4.6 at low rates, shear
# thinning): steady flow only, 3.3x the force, every periodic edge 8 rc (a chain's end-to-end distance is
# ~4.4 rc), longer micro runs; the Couette cell leaves 2.5 rc at each wall out of its bulk fit (depletion)
POLYMER = Settings(polymer=True, body_force=0.1, lateral=8.0, direct_eq=150.0, direct_sample=1000.0, micro_box=8.0,
                   micro_eq=500, micro_sample=3000, startup_times=(), scan_widths=(20.0,), slip_lateral=8.0,
                   slip_exclude=2.5, slip_eq=5000, slip_sample=30000)


def fluid(s: Settings):
    """rho = 3, a = 25, gamma = 4.5, kT = 1, dt = 0.04, lambda = 1/2; polymer chains if ``s.polymer``."""
    from validation.dpd import POLYMER as CHAINS
    from oracles import DPD

    return DPD(**{k: v for k, v in CHAINS.items() if k != "box"}) if s.polymer else DPD()


def direct_steady(s: Settings, width: float):
    from oracles.dpd.channel import WalledChannel, fit_parabola, steady_profile

    ch = WalledChannel(fluid(s), width=width, length=s.lateral, depth=s.lateral,
                       body_force=s.body_force * s.width / width)
    scale = (width / s.width) ** 2  # equilibration ~ H^2
    prof = steady_profile(ch, bins=s.bins, time_eq=s.direct_eq * scale, time_sample=s.direct_sample,
                          blocks=s.blocks, seed=s.seed)
    # the direct channel's own slip length, fitted over the same bulk region as the near-wall cell's
    return ch, prof, fit_parabola(prof, ch.force_density, exclude=s.slip_exclude)


def macro_problem(s: Settings, force_density: float, width: float, slip: float):
    """Momentum law between walls at rest at y = 0 and ``width`` with Navier slip length ``slip``."""
    from macro import DiffusionLaw, Grid1D

    rho = fluid(s).density
    law = DiffusionLaw(source=force_density, boundary=0.0, capacity=rho, fd_step=0.2, slip_length=slip)
    return law, Grid1D(s.cells, (0.0, width))


def hmm_budget(s: Settings, sampling: int | None = None):
    from hmm import Budget

    return Budget(equilibration_steps=s.micro_eq, sampling_steps=sampling or s.micro_sample)


def near_wall_oracle(s: Settings):
    """The Couette cell that measures the fluid's slip length at the walls."""
    from oracles import DPDWallSlip

    return DPDWallSlip(fluid(s), height=s.slip_height, length=s.slip_lateral, depth=s.slip_lateral,
                       exclude=s.slip_exclude)


def navier_parabola(y: np.ndarray, force_density: float, eta: float, width: float, slip: float) -> np.ndarray:
    """Newtonian Poiseuille flow with Navier slip l at both walls: f (y (H - y) + l H) / (2 eta)."""
    return force_density * (y * (width - y) + slip * width) / (2.0 * eta)


def micro_oracle(s: Settings, edge: float):
    """The Lees-Edwards DPD oracle of the fluid in a cubic box of side ``edge``."""
    return replace(fluid(s), box=(edge,) * 3)


def snap_wrapper(step: float):
    """``closure_wrapper`` for reuse by shear-rate proximity (None if ``step`` is 0):
    every shear rate (and the rows its seeds derive from) is rounded to a
    multiple of ``step``, so faces and steps whose rates fall in the same bin
    share one micro run (the coupler cache answers the repeats). Costs a
    stress error up to eta * step / 2 per face; the example measures runs
    saved and error change."""
    from macro import QuantisedClosure

    return (lambda cc: QuantisedClosure(cc, [0.0, step])) if step else None


def hmm_steady(s: Settings, coupler, force_density: float, width: float, slip: float = 0.0, snap: float = 0.0):
    """Steady HMM profile (Newton with FD tangents) with Navier slip length
    ``slip`` at the walls; adds ``u_stderr`` by linear propagation of the face
    stress stderr: du = -J^-1 D dtau with J = D diag(tau / shear_rate) G
    (secant viscosity at the faces), and ``u_wall`` (the velocity the slip
    condition gives at the two wall planes)."""
    from hmm import HMMSolver

    law, grid = macro_problem(s, force_density, width, slip)
    solver = HMMSolver(law, grid, coupler, budget=hmm_budget(s), rename=RENAME,
                       units={"u": "rc/tau", "x": "rc", "time": "tau", "shear_stress": "kT/rc^3"},
                       closure_wrapper=snap_wrapper(snap))
    mark = (coupler.n_evaluated, coupler.micro_seconds)
    ds = solver.solve_steady()
    count_fresh(ds, coupler, mark)
    if ds.attrs["newton_iterations"] == 0:
        raise RuntimeError(
            "HMM steady: Newton accepted u = 0 because the body force per cell is below the micro noise "
            "floor (c(n) sqrt 2 stderr(tau) / h > f); raise the micro budget or the force, or use fewer cells")
    u = ds["u"].values
    gmat, gvec = law.face_gradient_operator(grid)
    rate = gmat @ u + gvec
    tau = ds["shear_stress"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        secant = tau / rate
    ok = np.abs(rate) > 0.2 * np.abs(rate).max()
    secant = np.where(ok, secant, np.median(secant[ok]))
    div = law.operators(grid).divergence
    jac = (div @ (secant[:, None] * gmat.toarray())) / law.capacity
    a = np.linalg.solve(jac, div.toarray() / law.capacity)
    cov = a @ np.diag(ds["shear_stress_stderr"].values ** 2) @ a.T
    ds["u_stderr"] = ("x", np.sqrt(np.diag(cov)), {"units": "rc/tau"})
    # Newton stops once the residual is below its noise; its last evaluation still
    # says where the measured stresses balance the force: one more (free) step
    residual = (div @ tau + law.source_values(grid)) / law.capacity
    ds["u_newton"] = ("x", u, {"units": "rc/tau", "long_name": "the Newton iterate the solver accepted"})
    ds["u"] = ("x", u - np.linalg.solve(jac, residual), {"units": "rc/tau", "long_name": (
        "accepted iterate plus the Newton correction from its evaluation (secant Jacobian)")})
    rate = gmat @ ds["u"].values + gvec
    ds["shear_rate"] = ("x_face", rate, {"units": "1/tau"})
    ds["u_wall"] = ("wall", navier_walls(rate, slip), {"units": "rc/tau", "long_name": (
        "velocity at the wall planes, slip_length x wall shear rate (Navier)")})
    ds.attrs["slip_length"] = slip
    return ds


def wall_rate(ds) -> float:
    """Mean |du/dy| of the macro profile at the two walls (1/tau)."""
    return float(0.5 * (abs(ds["shear_rate"].values[0]) + abs(ds["shear_rate"].values[-1])))


def hmm_steady_with_slip(s: Settings, coupler, wall_coupler, force_density: float, width: float,
                         slip_budget, snap: float = 0.0):
    """Steady HMM with the slip length from the near-wall micro model, by fixed point.

    Pass k: HMM solve with slip l_k (l_0 = 0) -> wall shear rate gamma_k ->
    the Couette cell is queried at the nominal rate gamma_k (1 + 2 l_k / h_cell)
    (its bulk rate is then ~gamma_k), rounded to ``s.slip_snap`` so that a
    repeated rate is a cache hit -> l_{k+1} +- se. The pass's solve is
    accepted when l_{k+1} does not differ significantly from l_k (by less
    than 2 combined stderr; at k = 0: the fluid does not slip measurably),
    else the next pass starts from l_{k+1}; after ``s.slip_iterations``
    passes the last l is used for a final solve. The slip length's stderr adds
    gamma_w se(l) (a uniform shift of the profile) to ``u_stderr``. Returns
    (final dataset, no-slip dataset, history rows (rate queried, l, se(l),
    gamma_w)); ``fresh_runs`` / ``fresh_micro_s`` / ``wall_s`` of the final
    dataset count every pass, ``slip_runs`` / ``slip_micro_s`` the cell's.
    """
    start = time.perf_counter()
    slip, slip_se, history, converged, solves = 0.0, 0.0, [], False, []
    wall_mark = (wall_coupler.n_evaluated, wall_coupler.micro_seconds)

    def solve(length: float):
        solves.append(hmm_steady(s, coupler, force_density, width, length, snap))
        return solves[-1]

    for _ in range(max(s.slip_iterations, 1)):
        ds = solve(slip)
        gamma = wall_rate(ds)
        nominal = round(gamma * (1 + 2 * slip / s.slip_height) / s.slip_snap) * s.slip_snap
        est = wall_coupler.evaluate(np.array([[nominal]]), slip_budget)
        new, new_se = float(est.mean[0, 0]), float(est.stderr[0, 0])
        history.append((nominal, new, new_se, gamma))
        if converged := abs(new - slip) < 2 * np.hypot(new_se, slip_se):
            break
        slip, slip_se = new, new_se
    else:
        ds = solve(slip)
    runs = sum(d.attrs["fresh_runs"] for d in solves)
    micro_s = sum(d.attrs["fresh_micro_s"] for d in solves)
    ds["u_stderr"] = ("x", np.hypot(ds["u_stderr"].values, wall_rate(ds) * slip_se), ds["u_stderr"].attrs)
    ds.attrs.update(fresh_runs=runs, fresh_micro_s=micro_s, slip_length_stderr=slip_se,
                    final_pass_runs=ds.attrs["fresh_runs"], slip_converged=int(converged), hmm_solves=len(solves),
                    wall_s=time.perf_counter() - start,
                    slip_runs=wall_coupler.n_evaluated - wall_mark[0],
                    slip_micro_s=wall_coupler.micro_seconds - wall_mark[1])
    return ds, solves[0], history


def hmm_startup(s: Settings, coupler, force_density: float, slip: float, snap: float = 0.0):
    from hmm import HMMSolver

    law, grid = macro_problem(s, force_density, s.width, slip)
    solver = HMMSolver(law, grid, coupler, budget=hmm_budget(s, s.startup_sample), rename=RENAME,
                       stepper="crank_nicolson", closure_wrapper=snap_wrapper(snap))
    mark = (coupler.n_evaluated, coupler.micro_seconds)
    ds = solver.run(max(s.startup_times), dt=s.startup_dt, save_every=1)
    return count_fresh(ds, coupler, mark)


def count_fresh(ds, coupler, mark):
    """Micro runs the coupler really executed since ``mark`` (attrs ``fresh_runs``,
    ``fresh_micro_s``; for one solve the same as the solver's ``micro_runs``,
    which it reads from the Coupler's accounting)."""
    ds.attrs["fresh_runs"] = coupler.n_evaluated - mark[0]
    ds.attrs["fresh_micro_s"] = coupler.micro_seconds - mark[1]
    return ds


def sibling(coupler, oracle):
    """A Coupler with its own cache on the same cluster (for independent cost counts)."""
    from hmm import Coupler

    return Coupler(oracle, coupler.client or "sync", seed=coupler.seed, cache=True)


def on_bins(ds, width: float, y: np.ndarray, name: str = "u") -> np.ndarray:
    """The macro cell values of ``ds[name]`` (with the wall values ``u_wall`` at
    y = 0 and ``width``; for ``u_stderr`` the cell stderr is carried to the
    walls) interpolated to the bin centres y by a cubic spline (linear
    interpolation would clip the parabola's top by f h^2 / (16 eta), ~1% here)."""
    cells = ds[name].values
    walls = ds["u_wall"].values if name == "u" else cells[[0, -1]]
    return spline(ds["x"].values, cells, walls, width, y)


def spline(x: np.ndarray, cells: np.ndarray, walls, width: float, y: np.ndarray) -> np.ndarray:
    """Cubic spline through (0, walls[0]), (x, cells), (width, walls[1]), evaluated at y."""
    from scipy.interpolate import CubicSpline

    return CubicSpline(np.r_[0.0, x, width], np.r_[walls[0], cells, walls[1]])(y)


def slip_walls(s: Settings, u: np.ndarray, slip: float, force_density: float, width: float) -> np.ndarray:
    """Velocities at the two wall planes that the Navier condition gives for cell values ``u``."""
    law, grid = macro_problem(s, force_density, width, slip)
    gmat, gvec = law.face_gradient_operator(grid)
    return navier_walls(gmat @ u + gvec, slip)


def navier_walls(face_rate: np.ndarray, slip: float) -> np.ndarray:
    """Wall velocities u = l du/dn at the lower and upper wall (walls at rest) from the face shear rates."""
    return np.array([slip * face_rate[0], -slip * face_rate[-1]])


def l2(u: np.ndarray, ref: np.ndarray, se: np.ndarray) -> tuple[float, float, float]:
    """(relative L2 error, relative noise level sqrt(mean se^2), chi^2 per bin)."""
    norm = np.sqrt(np.mean(ref**2))
    return (float(np.sqrt(np.mean((u - ref) ** 2)) / norm), float(np.sqrt(np.mean(se**2)) / norm),
            float(np.mean((u - ref) ** 2 / se**2)))


def slip_budget(s: Settings):
    from hmm import Budget

    return Budget(equilibration_steps=s.slip_eq, sampling_steps=s.slip_sample)


def compare_steady(s: Settings, client, res: dict) -> dict:
    """Direct walled DPD and HMM steady profiles at width s.width (and s.scan_widths); dataset variables."""
    from hmm import Coupler
    from validation.dpd import le_viscosity

    ch, prof, fit = direct_steady(s, s.width)
    y, f = prof["y"].values, ch.force_density
    res.update(direct_steady_s=prof.attrs["wall_s"], direct_slip=fit["slip_length"], eta_curvature=fit["eta"],
               leaks=prof.attrs["leaks"], force_density=f, body_force=ch.body_force)
    print(f"direct steady  H={s.width:g}: {prof.attrs['n_beads']} beads, {prof.attrs['steps']} steps, "
          f"{prof.attrs['wall_s']:.1f} s; its Navier slip length (bulk parabola u / u' at the walls, a check only) "
          f"{fit['slip_length'][0]:.3f} +- {fit['slip_length'][1]:.3f} rc, eta from curvature {fit['eta'][0]:.3f} "
          f"+- {fit['eta'][1]:.3f}, leaks {prof.attrs['leaks']}")
    scan = {w: direct_steady(s, w) for w in s.scan_widths}
    for w, (_, pw, fw) in scan.items():
        print(f"direct steady  H={w:g}: {pw.attrs['n_beads']} beads, {pw.attrs['steps']} steps, "
              f"{pw.attrs['wall_s']:.1f} s; Navier slip length {fw['slip_length'][0]:.3f} +- "
              f"{fw['slip_length'][1]:.3f}")
    with Coupler(micro_oracle(s, s.micro_box), client, seed=s.seed, cache=True) as coupler, \
            Coupler(near_wall_oracle(s), client, seed=s.seed, cache=True) as wall_coupler:
        c0 = time.perf_counter()
        coupler.evaluate(np.array([[0.1], [0.2]]), hmm_budget(s, 50))  # start workers, load the numba cache
        res["cluster_start_s"] = time.perf_counter() - c0
        steady, plane, history = hmm_steady_with_slip(s, coupler, wall_coupler, f, s.width, slip_budget(s))
        slip = steady.attrs["slip_length"]
        # wider channels at the same wall stress (g ~ 1/H): the same wall shear rate, so the same slip length
        with sibling(coupler, coupler.oracle) as other:  # own cache: an honest cost per width
            hmm_scan = {w: hmm_steady(s, other, f * s.width / w, w, slip) for w in scan}
        snapped = None
        if s.reuse_step:
            with sibling(coupler, coupler.oracle) as other:
                snapped = hmm_steady(s, other, f, s.width, slip, s.reuse_step)
    res.update(slip_length=(slip, steady.attrs["slip_length_stderr"]), slip_history=history)
    for k, (rate, length, l_se, gamma) in enumerate(history):
        print(f"slip pass {k}: HMM wall shear rate {gamma:.3f} -> Couette cell at nominal rate {rate:.2f}: "
              f"slip length {length:.3f} +- {l_se:.3f} rc")
    print(f"slip length used: {slip:.3f} +- {steady.attrs['slip_length_stderr']:.3f} rc")
    # reference: Newtonian parabola with the Lees-Edwards viscosity at shear rate 0.3
    (_, eta_le, eta_le_se, _), = le_viscosity(micro_oracle(s, s.micro_box), (0.3,), time_sample=s.direct_sample)
    res["eta_le"] = (eta_le, eta_le_se)
    u_hmm, se_hmm = on_bins(steady, s.width, y), on_bins(steady, s.width, y, "u_stderr")
    se = np.hypot(se_hmm, prof["u_stderr"].values)
    res["steady_l2"] = l2(u_hmm, prof["u"].values, se)
    bulk = (y > s.slip_exclude) & (y < s.width - s.slip_exclude)  # outside the near-wall layer
    res["steady_l2_bulk"] = l2(u_hmm[bulk], prof["u"].values[bulk], se[bulk])
    u_newton = on_bins(steady.assign(u=steady["u_newton"]), s.width, y)
    res["steady_l2_accepted_iterate"] = l2(u_newton, prof["u"].values, se)
    u_plane = on_bins(plane, s.width, y)
    res["steady_l2_noslip"] = l2(u_plane, prof["u"].values, prof["u_stderr"].values)
    res["parabola_l2"] = l2(navier_parabola(y, f, eta_le, s.width, slip), prof["u"].values, prof["u_stderr"].values)
    hmm_s = steady.attrs["wall_s"]
    res.update(hmm_steady_s=hmm_s, hmm_steady_runs=steady.attrs["fresh_runs"], hmm_slip_runs=steady.attrs["slip_runs"],
               hmm_micro_s=steady.attrs["fresh_micro_s"] + steady.attrs["slip_micro_s"],
               steady_ratio=prof.attrs["wall_s"] / hmm_s)
    print(f"HMM steady: {s.cells} cells, {steady.attrs['fresh_runs']} bulk micro runs over {steady.attrs['hmm_solves']} solves "
          f"+ {steady.attrs['slip_runs']} near-wall runs ({res['hmm_micro_s']:.1f} micro core-s), {hmm_s:.1f} s wall "
          f"(+ {res['cluster_start_s']:.1f} s cluster start, not counted)")
    e, n, chi = res["steady_l2"]
    print(f"steady  : L2 error HMM vs direct = {e:.4f} (noise level {n:.4f}, chi2/bin {chi:.2f}); "
          f"bins > {s.slip_exclude:g} rc from the walls {res['steady_l2_bulk'][0]:.4f} "
          f"(chi2/bin {res['steady_l2_bulk'][2]:.2f}); "
          f"the solver's accepted iterate (before the last correction) {res['steady_l2_accepted_iterate'][0]:.4f}; "
          f"no slip (l = 0): {res['steady_l2_noslip'][0]:.4f}; Newtonian parabola with "
          f"Lees-Edwards eta(0.3) = {eta_le:.3f} +- {eta_le_se:.3f} and the same slip: {res['parabola_l2'][0]:.4f}")
    print(f"steady  : wall-time ratio direct / HMM = {res['steady_ratio']:.3f}")
    if snapped is not None:
        u_snap = on_bins(snapped, s.width, y)
        res["steady_reuse"] = (snapped.attrs["fresh_runs"], l2(u_snap, prof["u"].values, se)[0],
                               l2(u_snap, u_hmm, se_hmm)[0])
        print(f"steady  + reuse (rates snapped to {s.reuse_step}, final slip length): {snapped.attrs['fresh_runs']} "
              f"micro runs instead of {steady.attrs['final_pass_runs']} in the final pass, L2 error vs direct "
              f"{res['steady_reuse'][1]:.4f} (was {res['steady_l2'][0]:.4f}); differs from plain HMM by "
              f"{res['steady_reuse'][2]:.4f}")
    face_rate = steady["shear_rate"].values
    rate = np.abs(face_rate) > 0.2 * np.abs(face_rate).max()
    variables = {
        "direct_u": ("y", prof["u"].values, {"units": "rc/tau"}),
        "direct_u_stderr": ("y", prof["u_stderr"].values, {"units": "rc/tau"}),
        "direct_density": ("y", prof["density"].values, {"units": "1/rc^3"}),
        "direct_kT": ("y", prof["kT"].values, {"units": "kT"}),
        "direct_wall_stress": ("wall", prof["wall_stress"].values, {"units": "kT/rc^3"}),
        "hmm_u": ("x", steady["u"].values, {"units": "rc/tau"}),
        "hmm_u_stderr": ("x", steady["u_stderr"].values, {"units": "rc/tau"}),
        "hmm_u_wall": ("wall", steady["u_wall"].values, {"units": "rc/tau"}),
        "hmm_noslip_u": ("x", plane["u"].values, {"units": "rc/tau"}),
        "hmm_shear_rate": ("x_face", face_rate, {"units": "1/tau"}),
        "hmm_shear_stress": ("x_face", steady["shear_stress"].values, {"units": "kT/rc^3"}),
        "hmm_shear_stress_stderr": ("x_face", steady["shear_stress_stderr"].values, {"units": "kT/rc^3"}),
        "hmm_viscosity": ("x_face", np.where(rate, steady["shear_stress"].values / np.where(rate, face_rate, 1.0), np.nan),
                          {"units": "kT tau/rc^3", "long_name": "shear_stress / shear_rate at the faces"})}
    coords = {"y": ("y", y, {"units": "rc", "long_name": "distance from the lower wall plane"}),
              "x": ("x", steady["x"].values, {"units": "rc"}),
              "x_face": ("x_face", steady["x_face"].values, {"units": "rc"}),
              "wall": ("wall", ["lower", "upper"])}
    # width scan: direct cost per bead-step and steps ~ H^2 -> cost ~ H^3; HMM measured
    measured = {s.width: (prof.attrs["n_beads"], prof.attrs["steps"], prof.attrs["wall_s"])}
    measured.update({w: (p.attrs["n_beads"], p.attrs["steps"], p.attrs["wall_s"]) for w, (_, p, _) in scan.items()})
    per_bead_step = np.mean([c / (b * n) for b, n, c in measured.values()])
    hmm_cost = {s.width: hmm_s, **{w: d.attrs["wall_s"] for w, d in hmm_scan.items()}}
    widths = sorted({s.width, *s.scan_widths, 40.0, 80.0})
    rows = []
    print("width | direct beads | direct steps | direct s (measured / model) | HMM steady s")
    for w in widths:
        beads = round(fluid(s).density * s.lateral**2 * (w + 2))
        steps = round((s.direct_eq * (w / s.width) ** 2 + s.direct_sample) / fluid(s).dt)
        meas = measured.get(w, (0, 0, np.nan))[2]
        rows.append((meas, per_bead_step * beads * steps, hmm_cost.get(w, np.nan)))
        print(f"{w:5g} | {beads:12d} | {steps:12d} | {meas:8.1f} / {rows[-1][1]:8.1f} | {rows[-1][2]:8.1f}")
    for w, d in hmm_scan.items():
        _, pw, _ = scan[w]
        yw = pw["y"].values
        uw, sw = on_bins(d, w, yw), on_bins(d, w, yw, "u_stderr")
        res[f"steady_l2_H{w:g}"] = l2(uw, pw["u"].values, np.hypot(sw, pw["u_stderr"].values))
        res[f"steady_ratio_H{w:g}"] = pw.attrs["wall_s"] / d.attrs["wall_s"]
        print(f"H = {w:g}: L2 error HMM vs direct = {res[f'steady_l2_H{w:g}'][0]:.4f}, wall-time ratio "
              f"direct / HMM = {res[f'steady_ratio_H{w:g}']:.3f} (the slip length of H = {s.width:g} reused)")
    variables.update({
        "scan_direct_measured_s": ("width", [r[0] for r in rows], {"units": "s"}),
        "scan_direct_s": ("width", [r[1] for r in rows], {"units": "s", "long_name": "direct cost model"}),
        "scan_hmm_s": ("width", [r[2] for r in rows], {"units": "s"})})
    coords["width"] = ("width", np.array(widths, dtype=float), {"units": "rc"})
    return {"variables": variables, "coords": coords, "channel": ch}


def startup_bins(s: Settings, ds, k: int, slip: float, force_density: float, y: np.ndarray) -> np.ndarray:
    """The start-up HMM profile of time row ``k`` on the bins y (walls from the slip condition)."""
    u = ds["u"].values[k]
    return spline(ds["x"].values, u, slip_walls(s, u, slip, force_density, s.width), s.width, y)


def compare_startup(s: Settings, client, res: dict, channel) -> dict:
    """Start-up from rest: direct replicas and HMM (Crank-Nicolson); dataset variables."""
    from hmm import Coupler
    from oracles.dpd.channel import startup_profiles

    slip = res["slip_length"][0]
    start = startup_profiles(channel, s.startup_times, replicas=s.startup_replicas, bins=s.bins, seed=s.seed)
    print(f"direct start-up: {s.startup_replicas} replicas, {start.attrs['wall_s']:.1f} s")
    with Coupler(micro_oracle(s, s.startup_box), client, seed=s.seed, cache=True) as coupler:
        hstart = hmm_startup(s, coupler, channel.force_density, slip)
        snapped = None
        if s.reuse_step:
            with sibling(coupler, coupler.oracle) as other:
                snapped = hmm_startup(s, other, channel.force_density, slip, s.reuse_step)
    res.update(direct_startup_s=start.attrs["wall_s"], hmm_startup_s=hstart.attrs["wall_s"],
               startup_ratio=start.attrs["wall_s"] / hstart.attrs["wall_s"],
               hmm_startup_runs=hstart.attrs["fresh_runs"])
    y = start["y"].values
    rows = [int(np.argmin(np.abs(hstart["time"].values - t))) for t in s.startup_times]
    for t, k in zip(s.startup_times, rows):
        ub = startup_bins(s, hstart, k, slip, channel.force_density, y)
        err = l2(ub, start["u"].sel(time=t).values, start["u_stderr"].sel(time=t).values)
        res[f"startup_l2_t{t:g}"] = err
        print(f"start-up t = {t:5.1f}: L2 error HMM vs direct = {err[0]:.4f} (direct noise {err[1]:.4f})")
    print(f"start-up: HMM {hstart.attrs['fresh_runs']} micro runs for {hstart.attrs['micro_runs']} face queries, "
          f"{hstart.attrs['wall_s']:.1f} s wall; "
          f"wall-time ratio direct / HMM = {res['startup_ratio']:.3f}")
    if snapped is not None:
        errs = []
        for t, k in zip(s.startup_times, rows):
            ub = startup_bins(s, snapped, k, slip, channel.force_density, y)
            errs.append(l2(ub, start["u"].sel(time=t).values, start["u_stderr"].sel(time=t).values)[0])
        res["startup_reuse"] = (snapped.attrs["fresh_runs"], snapped.attrs["wall_s"], *errs)
        print(f"start-up + reuse (rates snapped to {s.reuse_step}): {snapped.attrs['fresh_runs']} micro runs, "
              f"{snapped.attrs['wall_s']:.1f} s wall; L2 errors " + ", ".join(
                  f"t = {t:g}: {e:.4f} (was {res[f'startup_l2_t{t:g}'][0]:.4f})"
                  for t, e in zip(s.startup_times, errs)))
    return {"variables": {
        "direct_startup_u": (("time", "y"), start["u"].values, {"units": "rc/tau"}),
        "direct_startup_u_stderr": (("time", "y"), start["u_stderr"].values, {"units": "rc/tau"}),
        "hmm_startup_u": (("time", "x"), hstart["u"].values[rows], {"units": "rc/tau"})},
        "coords": {"time": ("time", np.array(s.startup_times), {"units": "tau"})}}


def run(s: Settings, client=None, out: str | None = "results/dpd_channel_flow") -> dict:
    """Everything the script does; returns the headline numbers."""
    import xarray as xr

    res: dict = {}
    t0 = time.perf_counter()
    parts = [compare_steady(s, client, res)]
    if s.startup_times:
        parts.append(compare_startup(s, client, res, parts[0]["channel"]))
    res["total_s"] = time.perf_counter() - t0
    if out:
        ds = xr.Dataset({k: v for p in parts for k, v in p["variables"].items()},
                        coords={k: v for p in parts for k, v in p["coords"].items()},
                        attrs={k: (v if np.isscalar(v) else str(v)) for k, v in res.items()})
        ds.attrs.update(settings=str(s), fluid=repr(fluid(s)))
        plot(ds, res, s, out + ".png")
        from hmm.results import write_netcdf

        write_netcdf(ds, out + ".nc")
    return res


def plot(ds, res, s: Settings, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slip = res["slip_length"][0]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    y = ds["y"].values
    ax[0].errorbar(y, ds["direct_u"], 2 * ds["direct_u_stderr"], fmt="o", ms=3, label="direct walled DPD (2 se)")
    walls = ds["hmm_u_wall"].values
    ax[0].errorbar(np.r_[0.0, ds["x"], s.width], np.r_[walls[0], ds["hmm_u"], walls[1]],
                   np.r_[0.0, 2 * ds["hmm_u_stderr"], 0.0], fmt="s-", ms=4, capsize=2,
                   label=f"HMM, {s.cells} cells, Navier slip l = {slip:.2f} from the near-wall cell (2 se)")
    ax[0].plot(ds["x"], ds["hmm_noslip_u"], "x:", color="0.5", label="HMM without slip (l = 0)")
    yy = np.linspace(0.0, s.width, 200)
    ax[0].plot(yy, navier_parabola(yy, res["force_density"], res["eta_le"][0], s.width, slip), "k--", lw=0.8,
               label=f"Newtonian parabola, Lees-Edwards eta(0.3) = {res['eta_le'][0]:.3f}, same l")
    ax[0].set(xlabel="y (rc from the lower wall plane)", ylabel="u_x (rc/tau)",
              title=f"{'polymer ' if s.polymer else ''}steady, L2 error {res['steady_l2'][0]:.3f} "
                    f"(no slip: {res['steady_l2_noslip'][0]:.3f})")
    ax[0].legend(fontsize=7)
    if "time" in ds.coords:
        for k, t in enumerate(ds["time"].values):
            line = ax[1].errorbar(y, ds["direct_startup_u"][k], 2 * ds["direct_startup_u_stderr"][k], fmt="o", ms=3)
            ax[1].plot(ds["x"], ds["hmm_startup_u"][k], "-", color=line[0].get_color(), label=f"t = {t:g}")
        ax[1].set(xlabel="y (rc)", ylabel="u_x (rc/tau)", title="start-up from rest: direct (dots), HMM (lines)")
    else:
        rate, eta = np.abs(ds["hmm_shear_rate"].values), ds["hmm_viscosity"].values
        err = ds["hmm_shear_stress_stderr"].values / np.maximum(rate, 1e-12)
        ax[1].errorbar(rate, eta, 2 * err, fmt="s", label="HMM faces: shear_stress / shear_rate (2 se)")
        ax[1].axhline(res["eta_le"][0], color="k", ls="--", lw=0.8, label="Lees-Edwards eta(0.3)")
        ax[1].set(xlabel="|shear rate| (1/tau)", ylabel="eta (kT tau / rc^3)", title="viscosity met by the HMM")
    ax[1].legend(fontsize=7)
    w = ds["width"].values
    ax[2].loglog(w, ds["scan_direct_s"], "o--", label="direct, model (beads x steps, measured rate)")
    ax[2].loglog(w, ds["scan_direct_measured_s"], "o", label="direct, measured")
    ax[2].loglog(w, ds["scan_hmm_s"], "s", label=f"HMM steady, measured (H > {s.width:g}: slip length reused)")
    ax[2].axhline(res["hmm_steady_s"], color="C2", lw=0.8)
    ax[2].set(xlabel="channel width H (rc)", ylabel="wall seconds", title="cost vs width (steady)")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller run (~1 min)")
    parser.add_argument("--polymer", action="store_true",
                        help="the shear-thinning polymer solution (steady only; default out gets '_polymer')")
    parser.add_argument("--out", default="results/dpd_channel_flow", help="path stem of the .png and .nc")
    parser.add_argument("--client", default=None, help="scheduler address or 'sync' (default: embedded cluster)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    settings = QUICK if args.quick else Settings()
    if args.polymer:
        quick = ("direct_eq", "direct_sample", "cells", "scan_widths", "slip_eq", "slip_sample", "slip_iterations")
        settings = replace(POLYMER, **({k: getattr(QUICK, k) for k in quick} if args.quick else {}))
        if args.out == parser.get_default("out"):
            args.out += "_polymer"
    res = run(settings, args.client, args.out)
    print(f"total {res['total_s']:.0f} s")


if __name__ == "__main__":
    main()
