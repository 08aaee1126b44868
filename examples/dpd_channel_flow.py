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

Direct: the whole channel simulated bead by bead (oracles.dpd_channel:
frozen-bead walls + bounce-back, Revenga et al. 1999, Pivkin & Karniadakis
2005) with the same fluid (rho = 3, a = 25, gamma = 4.5, kT = 1, dt = 0.04)
and the same body force f = rho g: the steady profile (time and block
averaged) and the start-up from rest (ensemble of replicas).

Effective wall position: a parabola fitted to the direct steady profile
(bins > 1 rc from the walls) vanishes at distance delta beyond each wall
plane; the macro no-slip walls are put there (the macro domain is
[-delta, H + delta]). delta is printed with its stderr; the errors with the
walls on the planes (delta = 0) are printed too.

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

--polymer: the polymer solution of hmm.validation.dpd (80% of the beads in
N = 20 Gaussian-spring chains), steady flow only. Not validated: the chains
are depleted within ~1-2 rc of the walls, so the direct profile shows a large
apparent slip that a bulk closure cannot give; the script measures and prints
the mismatch (see docs/design-notes.md).

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
    seed: int = 1
    polymer: bool = False  # the polymer solution of hmm.validation.dpd.POLYMER instead of the simple fluid
    reuse_step: float = 0.02  # also run HMM with shear rates snapped to this grid (0: off); see snap_rates


QUICK = Settings(direct_eq=100.0, direct_sample=300.0, cells=5, micro_box=5.0, micro_sample=1000, startup_box=4.0,
                 startup_times=(4.0, 12.0, 24.0), startup_dt=4.0, startup_replicas=6, scan_widths=())


# polymer solution (80% of the beads in N = 20 Gaussian-spring chains, eta ~ 4.6 at low rates, shear
# thinning): steady flow only, 3.3x the force (the chains are depleted near the walls: apparent slip of
# ~1.5 rc widens the flow), longer micro runs in a box of 8 rc (a chain's end-to-end distance is ~4 rc)
POLYMER = Settings(polymer=True, body_force=0.1, direct_eq=100.0, direct_sample=600.0, micro_box=8.0, micro_eq=500,
                   micro_sample=3000, startup_times=(), scan_widths=())


def fluid(s: Settings):
    """rho = 3, a = 25, gamma = 4.5, kT = 1, dt = 0.04, lambda = 1/2; polymer chains if ``s.polymer``."""
    from hmm.validation.dpd import POLYMER as CHAINS
    from oracles import DPD

    return DPD(**{k: v for k, v in CHAINS.items() if k != "box"}) if s.polymer else DPD()


def direct_steady(s: Settings, width: float):
    from oracles.dpd_channel import WalledChannel, fit_parabola, steady_profile

    ch = WalledChannel(fluid(s), width=width, length=s.lateral, depth=s.lateral,
                       body_force=s.body_force * s.width / width)
    scale = (width / s.width) ** 2  # equilibration ~ H^2
    prof = steady_profile(ch, bins=s.bins, time_eq=s.direct_eq * scale, time_sample=s.direct_sample,
                          blocks=s.blocks, seed=s.seed)
    return ch, prof, fit_parabola(prof, ch.force_density)


def macro_problem(s: Settings, force_density: float, width: float, delta: float):
    from macro import DiffusionLaw, Grid1D

    rho = fluid(s).density
    law = DiffusionLaw(source=force_density, boundary=0.0, capacity=rho, fd_step=0.2)
    return law, Grid1D(s.cells, (-delta, width + delta))


def hmm_budget(s: Settings, sampling: int | None = None):
    from hmm import Budget

    return Budget(equilibration_steps=s.micro_eq, sampling_steps=sampling or s.micro_sample)


def micro_oracle(s: Settings, edge: float):
    """The Lees-Edwards DPD oracle of the fluid in a cubic box of side ``edge``."""
    return replace(fluid(s), box=(edge,) * 3)


def snap_rates(solver, step: float) -> None:
    """Reuse by shear-rate proximity: the solver's closure rounds every shear
    rate (and the rows its seeds derive from) to a multiple of ``step``, so
    faces and steps whose rates fall in the same bin share one micro run (the
    coupler cache answers the repeats). Costs a stress error up to
    eta * step / 2 per face; the example measures runs saved and error change."""
    from hmm.closure import CouplerClosure

    class SnappedClosure(CouplerClosure):
        def lift(self, points):
            return np.round(super().lift(points) / step) * step

    old = solver.closure
    solver.closure = SnappedClosure(old.coupler, old.law_inputs, old.law_outputs, old.budget, rename=RENAME)


def hmm_steady(s: Settings, coupler, force_density: float, width: float, delta: float, snap: float = 0.0):
    """Steady HMM profile (Newton with FD tangents); adds ``u_stderr`` by
    linear propagation of the face stress stderr: du = -J^-1 D dtau with
    J = D diag(tau / shear_rate) G (secant viscosity at the faces)."""
    from hmm import HMMSolver

    law, grid = macro_problem(s, force_density, width, delta)
    solver = HMMSolver(law, grid, coupler, budget=hmm_budget(s), rename=RENAME,
                       units={"u": "rc/tau", "x": "rc", "time": "tau", "flux": "kT/rc^3"})
    if snap:
        snap_rates(solver, snap)
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
    tau = ds["flux"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        secant = tau / rate
    ok = np.abs(rate) > 0.2 * np.abs(rate).max()
    secant = np.where(ok, secant, np.median(secant[ok]))
    div = law.operators(grid).divergence
    jac = (div @ (secant[:, None] * gmat.toarray())) / law.capacity
    a = np.linalg.solve(jac, div.toarray() / law.capacity)
    cov = a @ np.diag(ds["flux_stderr"].values ** 2) @ a.T
    ds["u_stderr"] = ("x", np.sqrt(np.diag(cov)), {"units": "rc/tau"})
    # Newton stops once the residual is below its noise; its last evaluation still
    # says where the measured stresses balance the force: one more (free) step
    residual = (div @ tau + law.source_values(grid)) / law.capacity
    ds["u_newton"] = ("x", u, {"units": "rc/tau", "long_name": "the Newton iterate the solver accepted"})
    ds["u"] = ("x", u - np.linalg.solve(jac, residual), {"units": "rc/tau", "long_name": (
        "accepted iterate plus the Newton correction from its evaluation (secant Jacobian)")})
    ds["shear_rate"] = ("x_face", rate, {"units": "1/tau"})
    return ds


def hmm_startup(s: Settings, coupler, force_density: float, delta: float, snap: float = 0.0):
    from hmm import HMMSolver

    law, grid = macro_problem(s, force_density, s.width, delta)
    solver = HMMSolver(law, grid, coupler, budget=hmm_budget(s, s.startup_sample), rename=RENAME,
                       stepper="crank_nicolson")
    if snap:
        snap_rates(solver, snap)
    mark = (coupler.n_evaluated, coupler.micro_seconds)
    ds = solver.run(max(s.startup_times), dt=s.startup_dt, save_every=1)
    return count_fresh(ds, coupler, mark)


def count_fresh(ds, coupler, mark):
    """Micro runs the coupler really executed since ``mark`` (attrs ``fresh_runs``,
    ``fresh_micro_s``). The solver's ``micro_runs`` counts every query not
    answered from the cache, including duplicates within a batch (e.g. all faces
    at shear rate 0 in the first Jacobian), which the coupler runs once."""
    ds.attrs["fresh_runs"] = coupler.n_evaluated - mark[0]
    ds.attrs["fresh_micro_s"] = coupler.micro_seconds - mark[1]
    return ds


def sibling(coupler, oracle):
    """A Coupler with its own cache on the same cluster (for independent cost counts)."""
    from hmm import Coupler

    return Coupler(oracle, coupler.client or "sync", seed=coupler.seed, cache=True)


def on_bins(x_cells: np.ndarray, u_cells: np.ndarray, lo: float, hi: float, y: np.ndarray) -> np.ndarray:
    """Macro cell values (with u = 0 at the walls lo, hi) interpolated to the bin
    centres y by a cubic spline (linear interpolation would clip the parabola's
    top by f h^2 / (16 eta), ~1% here)."""
    from scipy.interpolate import CubicSpline

    return CubicSpline(np.r_[lo, x_cells, hi], np.r_[0.0, u_cells, 0.0])(y)


def l2(u: np.ndarray, ref: np.ndarray, se: np.ndarray) -> tuple[float, float, float]:
    """(relative L2 error, relative noise level sqrt(mean se^2), chi^2 per bin)."""
    norm = np.sqrt(np.mean(ref**2))
    return (float(np.sqrt(np.mean((u - ref) ** 2)) / norm), float(np.sqrt(np.mean(se**2)) / norm),
            float(np.mean((u - ref) ** 2 / se**2)))


def compare_steady(s: Settings, client, res: dict) -> dict:
    """Direct walled DPD and HMM steady profiles at width s.width (and s.scan_widths); dataset variables."""
    from hmm import Coupler
    from hmm.validation.dpd import le_viscosity
    from oracles.dpd_channel import parabola

    ch, prof, fit = direct_steady(s, s.width)
    delta, delta_se = fit["delta"]
    y, f = prof["y"].values, ch.force_density
    res.update(direct_steady_s=prof.attrs["wall_s"], delta=delta, delta_se=delta_se, eta_curvature=fit["eta"],
               leaks=prof.attrs["leaks"], force_density=f, body_force=ch.body_force)
    print(f"direct steady  H={s.width:g}: {prof.attrs['n_beads']} beads, {prof.attrs['steps']} steps, "
          f"{prof.attrs['wall_s']:.1f} s; effective wall offset delta = {delta:.3f} +- {delta_se:.3f} rc, "
          f"eta from curvature {fit['eta'][0]:.3f} +- {fit['eta'][1]:.3f}, leaks {prof.attrs['leaks']}")
    scan = {w: direct_steady(s, w) for w in s.scan_widths}
    for w, (_, pw, fw) in scan.items():
        print(f"direct steady  H={w:g}: {pw.attrs['n_beads']} beads, {pw.attrs['steps']} steps, "
              f"{pw.attrs['wall_s']:.1f} s; delta = {fw['delta'][0]:.3f} +- {fw['delta'][1]:.3f}")
    with Coupler(micro_oracle(s, s.micro_box), client, seed=s.seed, cache=True) as coupler:
        c0 = time.perf_counter()
        coupler.evaluate(np.array([[0.1], [0.2]]), hmm_budget(s, 50))  # start workers, load the numba cache
        res["cluster_start_s"] = time.perf_counter() - c0
        steady = hmm_steady(s, coupler, f, s.width, delta)
        plane = hmm_steady(s, coupler, f, s.width, 0.0)
        hmm_scan = {w: hmm_steady(s, coupler, f * s.width / w, w, fw["delta"][0]) for w, (_, _, fw) in scan.items()}
        snapped = None
        if s.reuse_step:
            with sibling(coupler, coupler.oracle) as other:
                snapped = hmm_steady(s, other, f, s.width, delta, s.reuse_step)
    # reference: Newtonian parabola with the Lees-Edwards viscosity at shear rate 0.3
    (_, eta_le, eta_le_se, _), = le_viscosity(micro_oracle(s, s.micro_box), (0.3,), time_sample=s.direct_sample)
    res["eta_le"] = (eta_le, eta_le_se)
    u_hmm = on_bins(steady["x"].values, steady["u"].values, -delta, s.width + delta, y)
    se_hmm = on_bins(steady["x"].values, steady["u_stderr"].values, -delta, s.width + delta, y)
    se = np.hypot(se_hmm, prof["u_stderr"].values)
    res["steady_l2"] = l2(u_hmm, prof["u"].values, se)
    bulk = (y > 1.0) & (y < s.width - 1.0)  # the density is flat beyond 1 rc from the walls
    res["steady_l2_bulk"] = l2(u_hmm[bulk], prof["u"].values[bulk], se[bulk])
    u_newton = on_bins(steady["x"].values, steady["u_newton"].values, -delta, s.width + delta, y)
    res["steady_l2_accepted_iterate"] = l2(u_newton, prof["u"].values, se)
    u_plane = on_bins(plane["x"].values, plane["u"].values, 0.0, s.width, y)
    res["steady_l2_delta0"] = l2(u_plane, prof["u"].values, prof["u_stderr"].values)
    res["parabola_l2"] = l2(parabola(y, f, eta_le, s.width, delta), prof["u"].values, prof["u_stderr"].values)
    hmm_s = steady.attrs["wall_s"]
    res.update(hmm_steady_s=hmm_s, hmm_steady_runs=steady.attrs["fresh_runs"],
               hmm_micro_s=steady.attrs["fresh_micro_s"], steady_ratio=prof.attrs["wall_s"] / hmm_s)
    print(f"HMM steady: {s.cells} cells, {steady.attrs['fresh_runs']} micro runs for {steady.attrs['micro_runs']} "
          f"face queries ({steady.attrs['fresh_micro_s']:.1f} micro core-s), {hmm_s:.1f} s wall "
          f"(+ {res['cluster_start_s']:.1f} s cluster start, not counted)")
    e, n, chi = res["steady_l2"]
    print(f"steady  : L2 error HMM vs direct = {e:.4f} (noise level {n:.4f}, chi2/bin {chi:.2f}); "
          f"bins > 1 rc from the walls {res['steady_l2_bulk'][0]:.4f} (chi2/bin {res['steady_l2_bulk'][2]:.2f}); "
          f"the solver's accepted iterate (before the last correction) {res['steady_l2_accepted_iterate'][0]:.4f}; "
          f"walls on the planes (delta = 0): {res['steady_l2_delta0'][0]:.4f}; Newtonian parabola with "
          f"Lees-Edwards eta(0.3) = {eta_le:.3f} +- {eta_le_se:.3f}: {res['parabola_l2'][0]:.4f}")
    print(f"steady  : wall-time ratio direct / HMM = {res['steady_ratio']:.3f}")
    if snapped is not None:
        u_snap = on_bins(snapped["x"].values, snapped["u"].values, -delta, s.width + delta, y)
        res["steady_reuse"] = (snapped.attrs["fresh_runs"], l2(u_snap, prof["u"].values, se)[0],
                               l2(u_snap, u_hmm, se_hmm)[0])
        print(f"steady  + reuse (rates snapped to {s.reuse_step}): {snapped.attrs['fresh_runs']} micro runs instead "
              f"of {steady.attrs['fresh_runs']}, L2 error vs direct {res['steady_reuse'][1]:.4f} (was "
              f"{res['steady_l2'][0]:.4f}); differs from plain HMM by {res['steady_reuse'][2]:.4f}")
    face_rate = steady["shear_rate"].values
    rate = np.abs(face_rate) > 0.2 * np.abs(face_rate).max()
    variables = {
        "direct_u": ("y", prof["u"].values, {"units": "rc/tau"}),
        "direct_u_stderr": ("y", prof["u_stderr"].values, {"units": "rc/tau"}),
        "direct_density": ("y", prof["density"].values, {"units": "1/rc^3"}),
        "direct_kT": ("y", prof["kT"].values, {"units": "kT"}),
        "hmm_u": ("x", steady["u"].values, {"units": "rc/tau"}),
        "hmm_u_stderr": ("x", steady["u_stderr"].values, {"units": "rc/tau"}),
        "hmm_shear_rate": ("x_face", face_rate, {"units": "1/tau"}),
        "hmm_shear_stress": ("x_face", steady["flux"].values, {"units": "kT/rc^3"}),
        "hmm_shear_stress_stderr": ("x_face", steady["flux_stderr"].values, {"units": "kT/rc^3"}),
        "hmm_viscosity": ("x_face", np.where(rate, steady["flux"].values / np.where(rate, face_rate, 1.0), np.nan),
                          {"units": "kT tau/rc^3", "long_name": "shear_stress / shear_rate at the faces"})}
    coords = {"y": ("y", y, {"units": "rc", "long_name": "distance from the lower wall plane"}),
              "x": ("x", steady["x"].values, {"units": "rc"}),
              "x_face": ("x_face", steady["x_face"].values, {"units": "rc"})}
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
        _, pw, fw = scan[w]
        dw = fw["delta"][0]
        uw = on_bins(d["x"].values, d["u"].values, -dw, w + dw, pw["y"].values)
        sw = on_bins(d["x"].values, d["u_stderr"].values, -dw, w + dw, pw["y"].values)
        res[f"steady_l2_H{w:g}"] = l2(uw, pw["u"].values, np.hypot(sw, pw["u_stderr"].values))
        res[f"steady_ratio_H{w:g}"] = pw.attrs["wall_s"] / d.attrs["wall_s"]
        print(f"H = {w:g}: L2 error HMM vs direct = {res[f'steady_l2_H{w:g}'][0]:.4f}, wall-time ratio "
              f"direct / HMM = {res[f'steady_ratio_H{w:g}']:.3f}")
    variables.update({
        "scan_direct_measured_s": ("width", [r[0] for r in rows], {"units": "s"}),
        "scan_direct_s": ("width", [r[1] for r in rows], {"units": "s", "long_name": "direct cost model"}),
        "scan_hmm_s": ("width", [r[2] for r in rows], {"units": "s"})})
    coords["width"] = ("width", np.array(widths, dtype=float), {"units": "rc"})
    return {"variables": variables, "coords": coords, "channel": ch}


def compare_startup(s: Settings, client, res: dict, channel) -> dict:
    """Start-up from rest: direct replicas and HMM (Crank-Nicolson); dataset variables."""
    from hmm import Coupler
    from oracles.dpd_channel import startup_profiles

    delta = res["delta"]
    start = startup_profiles(channel, s.startup_times, replicas=s.startup_replicas, bins=s.bins, seed=s.seed)
    print(f"direct start-up: {s.startup_replicas} replicas, {start.attrs['wall_s']:.1f} s")
    with Coupler(micro_oracle(s, s.startup_box), client, seed=s.seed, cache=True) as coupler:
        hstart = hmm_startup(s, coupler, channel.force_density, delta)
        snapped = None
        if s.reuse_step:
            with sibling(coupler, coupler.oracle) as other:
                snapped = hmm_startup(s, other, channel.force_density, delta, s.reuse_step)
    res.update(direct_startup_s=start.attrs["wall_s"], hmm_startup_s=hstart.attrs["wall_s"],
               startup_ratio=start.attrs["wall_s"] / hstart.attrs["wall_s"],
               hmm_startup_runs=hstart.attrs["fresh_runs"])
    y = start["y"].values
    rows = [int(np.argmin(np.abs(hstart["time"].values - t))) for t in s.startup_times]
    for t, k in zip(s.startup_times, rows):
        ub = on_bins(hstart["x"].values, hstart["u"].values[k], -delta, s.width + delta, y)
        err = l2(ub, start["u"].sel(time=t).values, start["u_stderr"].sel(time=t).values)
        res[f"startup_l2_t{t:g}"] = err
        print(f"start-up t = {t:5.1f}: L2 error HMM vs direct = {err[0]:.4f} (direct noise {err[1]:.4f})")
    print(f"start-up: HMM {hstart.attrs['fresh_runs']} micro runs for {hstart.attrs['micro_runs']} face queries, "
          f"{hstart.attrs['wall_s']:.1f} s wall; "
          f"wall-time ratio direct / HMM = {res['startup_ratio']:.3f}")
    if snapped is not None:
        errs = []
        for t, k in zip(s.startup_times, rows):
            ub = on_bins(snapped["x"].values, snapped["u"].values[k], -delta, s.width + delta, y)
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

    from oracles.dpd_channel import parabola

    delta = res["delta"]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    y = ds["y"].values
    ax[0].errorbar(y, ds["direct_u"], 2 * ds["direct_u_stderr"], fmt="o", ms=3, label="direct walled DPD (2 se)")
    ax[0].errorbar(ds["x"], ds["hmm_u"], 2 * ds["hmm_u_stderr"], fmt="s-", ms=4, capsize=2,
                   label=f"HMM, {s.cells} cells (2 se)")
    yy = np.linspace(-delta, s.width + delta, 200)
    ax[0].plot(yy, parabola(yy, res["force_density"], res["eta_le"][0], s.width, delta), "k--", lw=0.8,
               label=f"Newtonian parabola, Lees-Edwards eta(0.3) = {res['eta_le'][0]:.3f}")
    ax[0].set(xlabel="y (rc from the lower wall plane)", ylabel="u_x (rc/tau)",
              title=f"{'polymer ' if s.polymer else ''}steady, L2 error {res['steady_l2'][0]:.3f}, "
                    f"delta = {delta:.2f}")
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
    ax[2].loglog(w, ds["scan_hmm_s"], "s", label="HMM steady, measured")
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
        settings = replace(POLYMER, **({k: getattr(QUICK, k) for k in ("direct_eq", "direct_sample", "cells")}
                                        if args.quick else {}))
        if args.out == parser.get_default("out"):
            args.out += "_polymer"
    res = run(settings, args.client, args.out)
    print(f"total {res['total_s']:.0f} s")


if __name__ == "__main__":
    main()
