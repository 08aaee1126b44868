r"""HMM channel flow with DPD shear stress, against a direct DPD of the whole walled channel.

Macro: rho du/dt = d tau / dy + f by finite volumes (macro.DiffusionLaw), each face stress from a Lees-Edwards DPD
run (oracles.DPD) through hmm.Coupler; the steady solve gives u_stderr and a free final Newton correction. Direct:
the whole channel bead by bead (oracles.dpd_channel: frozen-bead walls + bounce-back, Revenga et al. 1999, Pivkin &
Karniadakis 2005). The macro walls carry Navier slip u = l du/dn, l from a second oracle (oracles.DPDWallSlip, a
Couette cell between the same walls) at the macro wall shear rate (as Ren & E 2005) by hmm.coupling's noisy fixed
point. --polymer: 80% of the beads in N = 20 chains (docs/design-notes.md). Cost: benchmarks/dpd_channel_cost.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib
import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the validation studies (not installed)
import matplotlib.pyplot as plt  # noqa: E402
from hmm import Budget, Coupler, HMMSolver  # noqa: E402
from hmm.coupling import BoundaryCoupling, noisy_fixed_point  # noqa: E402
from hmm.results import write_netcdf  # noqa: E402
from macro import DiffusionLaw, Grid1D, QuantisedClosure  # noqa: E402
from oracles import DPD, DPDWallSlip  # noqa: E402
from oracles.dpd.channel import WalledChannel, fit_parabola, startup_profiles, steady_profile  # noqa: E402
from oracles.dpd.reference import navier_poiseuille as navier_parabola  # noqa: E402
from validation.dpd import le_viscosity  # noqa: E402

# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: --quick 100 s, default 12 min (measured; the machine was shared, load average about 6 on 2 cores).")


RENAME = {"grad_x": "shear_rate", "flux": "shear_stress"}
UNITS = {"u": "rc/tau", "x": "rc", "time": "tau", "shear_stress": "kT/rc^3"}


@dataclass(frozen=True)
class Settings:
    """Sizes of one run (DPD units: rc, tau = rc sqrt(m / kT)), and the oracles, budgets and law they give."""

    width: float = 10.0  # H, wall plane to wall plane
    body_force: float = 0.03  # g per bead; f = rho g = 0.09, wall shear rate ~ 0.53
    lateral: float = 6.0  # Lx = Lz of the direct channel
    direct_eq: float = 150.0  # ~4 momentum diffusion times rho H^2 / (pi^2 eta) at H = 10
    direct_sample: float = 800.0
    cells: int = 10  # macro cells
    micro_box: float = 6.0
    micro_eq: int = 250  # steps per micro run
    micro_sample: int = 2000
    startup_box: float = 5.0  # cheaper micro runs for the many start-up steps (stress stderr ~0.02)
    startup_sample: int = 1000
    startup_times: tuple[float, ...] = (4.0, 10.0, 20.0, 40.0)
    startup_dt: float = 2.0
    startup_replicas: int = 16
    slip_height: float = 10.0  # the near-wall Couette cell (oracles.DPDWallSlip)
    slip_lateral: float = 6.0
    slip_exclude: float = 1.5  # bins within this of a wall left out of the cell's bulk fit
    slip_eq: int = 2500
    slip_sample: int = 20000
    slip_snap: float = 0.02  # the cell is queried at wall shear rates rounded to this grid
    slip_iterations: int = 4  # most fixed-point passes (HMM solve, slip query)
    seed: int = 1
    polymer: bool = False  # the DPD preset "polymer_solution" instead of the simple fluid
    reuse_step: float = 0.02  # also run HMM with shear rates snapped to this grid (0: off)

    def fluid(self, edge: float | None = None) -> DPD:
        """rho = 3, a = 25, gamma = 4.5, kT = 1, dt = 0.04 (chains if ``polymer``), in a cubic box ``edge`` if given."""
        dpd = replace(DPD.polymer_solution(), box=DPD().box) if self.polymer else DPD()
        return replace(dpd, box=(edge,) * 3) if edge else dpd

    def near_wall_oracle(self) -> DPDWallSlip:
        """The Couette cell that measures the fluid's slip length at the walls."""
        return DPDWallSlip(self.fluid(), height=self.slip_height, length=self.slip_lateral, depth=self.slip_lateral,
                           exclude=self.slip_exclude)

    def micro_budget(self, sampling: int | None = None) -> Budget:
        return Budget(equilibration_steps=self.micro_eq, sampling_steps=sampling or self.micro_sample)

    def slip_budget(self) -> Budget:
        return Budget(equilibration_steps=self.slip_eq, sampling_steps=self.slip_sample)

    def wrapper(self, step: float):
        """``closure_wrapper`` rounding shear rates to multiples of ``step`` (None if 0): one run per rate bin."""
        return (lambda cc: QuantisedClosure(cc, [0.0, step])) if step else None

    def law(self, force_density: float, width: float, slip: float) -> tuple[DiffusionLaw, Grid1D]:
        """Momentum law between walls at rest at y = 0 and ``width`` with Navier slip length ``slip``."""
        return (DiffusionLaw(source=force_density, boundary=0.0, capacity=self.fluid().density, fd_step=0.2,
                             slip_length=slip), Grid1D(self.cells, (0.0, width)))


near_wall_oracle, slip_budget = Settings.near_wall_oracle, Settings.slip_budget
QUICK = Settings(direct_eq=100.0, direct_sample=300.0, cells=5, micro_box=5.0, micro_sample=1000, startup_box=4.0,
                 startup_times=(4.0, 12.0, 24.0), startup_dt=4.0, startup_replicas=6,
                 slip_height=8.0, slip_lateral=5.0, slip_eq=1000, slip_sample=5000, slip_iterations=2)
POLYMER = Settings(polymer=True, body_force=0.1, lateral=8.0, direct_eq=150.0, direct_sample=1000.0, micro_box=8.0,
                   micro_eq=500, micro_sample=3000, startup_times=(), slip_lateral=8.0,
                   slip_exclude=2.5, slip_eq=5000, slip_sample=30000)  # 2.5 rc depletion layer left out
POLYMER_QUICK = replace(POLYMER, **{k: getattr(QUICK, k) for k in ("direct_eq", "direct_sample", "cells", "slip_eq",
                                                                    "slip_sample", "slip_iterations")})


def wall_velocity(law: DiffusionLaw, grid: Grid1D, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(face shear rates, the Navier velocities u = l du/dn at the lower and upper wall) of cell values u."""
    rate = law.face_gradients(grid, u)[:, 0]
    return rate, np.array([law.slip_length[0] * rate[0], -law.slip_length[1] * rate[-1]])


def direct_steady(s: Settings, width: float):
    """Direct walled channel (g ~ 1/H, equilibration ~ H^2): channel, profile, its own parabola fit."""
    ch = WalledChannel(s.fluid(), width=width, length=s.lateral, depth=s.lateral,
                       body_force=s.body_force * s.width / width)
    prof = steady_profile(ch, time_eq=s.direct_eq * (width / s.width) ** 2, time_sample=s.direct_sample, seed=s.seed)
    return ch, prof, fit_parabola(prof, ch.force_density, exclude=s.slip_exclude)


def hmm_steady(s: Settings, coupler, force_density: float, width: float, slip: float = 0.0, snap: float = 0.0):
    """Steady HMM profile with slip length ``slip``, plus ``shear_rate`` (faces) and ``u_wall`` (wall planes)."""
    law, grid = s.law(force_density, width, slip)
    ds = HMMSolver(law, grid, coupler, budget=s.micro_budget(), rename=RENAME, units=UNITS,
                   closure_wrapper=s.wrapper(snap)).solve_steady(final_correction=True)
    rate, walls = wall_velocity(law, grid, ds["u"].values)
    ds["shear_rate"], ds["u_wall"] = ("x_face", rate, {"units": "1/tau"}), ("wall", walls, {"units": "rc/tau"})
    ds.attrs.update(slip_length=slip, wall_rate=float(0.5 * (abs(rate[0]) + abs(rate[-1]))))
    return ds


def hmm_steady_with_slip(s: Settings, coupler, wall_coupler, force_density: float, width: float, budget, snap=0.0):
    """Steady HMM with the near-wall cell's slip length (noisy fixed point; the cell's bulk rate ~ the macro wall
    rate gamma_w at its nominal rate gamma_w (1 + 2 l / h)): (dataset, no-slip dataset, [(rate, l, se, gamma_w)])."""
    def query(ds, slip):
        return [[round(ds.attrs["wall_rate"] * (1 + 2 * slip / s.slip_height) / s.slip_snap) * s.slip_snap]]

    start, mark = time.perf_counter(), coupler.accounting
    fp = noisy_fixed_point(lambda slip: hmm_steady(s, coupler, force_density, width, slip, snap),
                           BoundaryCoupling("slip_length", wall_coupler, query, "slip_length", budget),
                           max_iterations=max(s.slip_iterations, 1), on_exhausted="solve",
                           sensitivity=lambda ds: np.full(ds.sizes["x"], ds.attrs["wall_rate"]))  # a uniform shift
    ds, work = fp.solution, coupler.accounting - mark
    ds["u_stderr"] = ("x", np.hypot(ds["u_stderr"].values, fp.solution_stderr), ds["u_stderr"].attrs)
    ds.attrs.update(fresh_runs=work.fresh_runs, fresh_micro_s=work.micro_seconds, slip_length_stderr=fp.stderr,
                    final_pass_runs=ds.attrs["micro_runs"], slip_converged=int(fp.converged), hmm_solves=fp.n_solves,
                    fixed_point_wall_s=time.perf_counter() - start, slip_runs=fp.accounting.fresh_runs,
                    slip_micro_s=fp.accounting.micro_seconds)
    return ds, fp.solutions[0], [(float(it.states[0, 0]), float(it.answer[0]), float(it.answer_stderr[0]),
                                  sol.attrs["wall_rate"]) for it, sol in zip(fp.iterates, fp.solutions)]


def on_bins(ds, width: float, y: np.ndarray, name: str = "u", k=()) -> np.ndarray:
    """``ds[name]`` (row ``k``) at y by a cubic spline through ``u_wall`` (``u_stderr``: the end cells) at the walls."""
    cells = ds[name].values[k]
    walls = cells[[0, -1]] if name == "u_stderr" else ds["u_wall"].values[k]
    return CubicSpline(np.r_[0.0, ds["x"].values, width], np.r_[walls[0], cells, walls[1]])(y)


def l2(u: np.ndarray, ref: np.ndarray, se: np.ndarray) -> tuple[float, float, float]:
    """(relative L2 error, relative noise level sqrt(mean se^2), chi^2 per bin)."""
    norm, d = np.sqrt(np.mean(ref**2)), u - ref
    return float(np.sqrt(np.mean(d**2)) / norm), float(np.sqrt(np.mean(se**2)) / norm), float(np.mean(d**2 / se**2))


def compare_steady(s: Settings, client, res: dict):
    """Direct walled DPD against the HMM steady profile (slip fixed point; rates snapped): (channel, Dataset)."""
    ch, prof, fit = direct_steady(s, s.width)
    y, f, ref, se_ref, p = prof["y"].values, ch.force_density, prof["u"].values, prof["u_stderr"].values, prof.attrs
    (ld, ld_se), (eta_d, eta_d_se) = fit["slip_length"], fit["eta"]
    print(f"direct steady  H={s.width:g}: {p['n_beads']} beads, {p['steps']} steps, {p['wall_s']:.1f} s; its Navier "
          f"slip length (bulk parabola u / u' at the walls, a check only) {ld:.3f} +- {ld_se:.3f} rc, eta from "
          f"curvature {eta_d:.3f} +- {eta_d_se:.3f}, leaks {p['leaks']}")
    with Coupler(s.fluid(s.micro_box), client, seed=s.seed, cache=True) as coupler, \
            Coupler(s.near_wall_oracle(), client, seed=s.seed, cache=True) as wall_coupler:
        c0 = time.perf_counter()
        coupler.evaluate(np.array([[0.1], [0.2]]), s.micro_budget(50))  # start workers, load the numba cache
        res["cluster_start_s"] = time.perf_counter() - c0
        steady, plane, history = hmm_steady_with_slip(s, coupler, wall_coupler, f, s.width, s.slip_budget())
        a, slip = steady.attrs, steady.attrs["slip_length"]
        if s.reuse_step:  # a cold cache (same cluster): the plain run's answers at u = 0 would make its first runs free
            with Coupler(coupler.oracle, coupler.client or "sync", seed=s.seed, cache=True) as cold:
                snap = hmm_steady(s, cold, f, s.width, slip, s.reuse_step)
    for k, (rate, length, l_se, gamma) in enumerate(history):
        print(f"slip pass {k}: HMM wall shear rate {gamma:.3f} -> Couette cell at nominal rate {rate:.2f}: "
              f"slip length {length:.3f} +- {l_se:.3f} rc")
    print(f"slip length used: {slip:.3f} +- {a['slip_length_stderr']:.3f} rc")
    (_, eta, eta_se, _), = le_viscosity(s.fluid(s.micro_box), (0.3,), time_sample=s.direct_sample)
    u_hmm, se_hmm = on_bins(steady, s.width, y), on_bins(steady, s.width, y, "u_stderr")
    se, bulk = np.hypot(se_hmm, se_ref), (y > s.slip_exclude) & (y < s.width - s.slip_exclude)
    res.update(direct_slip=(ld, ld_se), force_density=f, slip_length=(slip, a["slip_length_stderr"]),
               slip_history=history, eta_le=(eta, eta_se), steady_l2=l2(u_hmm, ref, se),
               steady_l2_bulk=l2(u_hmm[bulk], ref[bulk], se[bulk]),
               steady_l2_accepted_iterate=l2(on_bins(steady, s.width, y, "u_accepted"), ref, se),
               steady_l2_noslip=l2(on_bins(plane, s.width, y), ref, se_ref),
               parabola_l2=l2(navier_parabola(y, f, eta, s.width, slip), ref, se_ref),
               hmm_micro_s=a["fresh_micro_s"] + a["slip_micro_s"], steady_ratio=p["wall_s"] / a["fixed_point_wall_s"])
    (e, n, chi), (eb, _, chib) = res["steady_l2"], res["steady_l2_bulk"]
    print(f"HMM steady: {s.cells} cells, {a['fresh_runs']} bulk micro runs over {a['hmm_solves']} solves + "
          f"{a['slip_runs']} near-wall runs ({res['hmm_micro_s']:.1f} micro core-s), {a['fixed_point_wall_s']:.1f} s "
          f"wall (+ {res['cluster_start_s']:.1f} s cluster start, not counted)\n"
          f"steady  : L2 error HMM vs direct = {e:.4f} (noise level {n:.4f}, chi2/bin {chi:.2f}); bins > "
          f"{s.slip_exclude:g} rc from the walls {eb:.4f} (chi2/bin {chib:.2f}); the solver's accepted iterate "
          f"(before the last correction) {res['steady_l2_accepted_iterate'][0]:.4f}; no slip (l = 0): "
          f"{res['steady_l2_noslip'][0]:.4f}; Newtonian parabola with Lees-Edwards eta(0.3) = {eta:.3f} +- "
          f"{eta_se:.3f} and the same slip: {res['parabola_l2'][0]:.4f}\n"
          f"steady  : wall-time ratio direct / HMM = {res['steady_ratio']:.3f}")
    if s.reuse_step:
        u_snap = on_bins(snap, s.width, y)
        res["steady_reuse"] = (snap.attrs["micro_runs"], l2(u_snap, ref, se)[0], l2(u_snap, u_hmm, se_hmm)[0])
        print(f"steady  + reuse (rates snapped to {s.reuse_step}, final slip length): {snap.attrs['micro_runs']} "
              f"micro runs instead of {a['final_pass_runs']} in the final pass, L2 error vs direct "
              f"{res['steady_reuse'][1]:.4f} (was {e:.4f}); differs from plain HMM by {res['steady_reuse'][2]:.4f}")
    hmm = steady.assign(noslip_u=plane["u"])
    return ch, xr.merge([prof.rename({v: f"direct_{v}" for v in prof.data_vars}),
                         hmm.rename({v: f"hmm_{v}" for v in hmm.data_vars})], combine_attrs="drop")


def compare_startup(s: Settings, client, res: dict, channel) -> xr.Dataset:
    """Start-up from rest: direct replicas and HMM (Crank-Nicolson; plain and rates snapped)."""
    law, grid = s.law(channel.force_density, s.width, res["slip_length"][0])
    start = startup_profiles(channel, s.startup_times, replicas=s.startup_replicas, seed=s.seed)
    print(f"direct start-up: {s.startup_replicas} replicas, {start.attrs['wall_s']:.1f} s")
    runs, times = {}, s.startup_times
    with Coupler(s.fluid(s.startup_box), client, seed=s.seed, cache=True) as plain, \
            Coupler(plain.oracle, plain.client or "sync", seed=s.seed, cache=True) as cold:  # both start at u = 0
        for snap, coupler in zip(dict.fromkeys((0.0, s.reuse_step)), (plain, cold)):
            ds = runs[snap] = HMMSolver(law, grid, coupler, budget=s.micro_budget(s.startup_sample), rename=RENAME,
                                        units=UNITS, stepper="crank_nicolson", closure_wrapper=s.wrapper(snap)
                                        ).run(max(times), dt=s.startup_dt, save_every=1)
            ds["u_wall"] = (("time", "wall"), np.array([wall_velocity(law, grid, u)[1] for u in ds["u"].values]))
    rows = [int(np.argmin(np.abs(ds["time"].values - t))) for t in times]
    errors = {key: [l2(on_bins(ds, s.width, start["y"].values, k=k), start["u"].sel(time=t).values,
                        start["u_stderr"].sel(time=t).values) for t, k in zip(times, rows)] for key, ds in runs.items()}
    hmm, ratio = runs[0.0].attrs, start.attrs["wall_s"] / runs[0.0].attrs["wall_s"]
    res.update({f"startup_l2_t{t:g}": e for t, e in zip(times, errors[0.0])}, startup_ratio=ratio)
    for t, (e, n, _) in zip(times, errors[0.0]):
        print(f"start-up t = {t:5.1f}: L2 error HMM vs direct = {e:.4f} (direct noise {n:.4f})")
    print(f"start-up: HMM {hmm['micro_runs']} micro runs (+ {hmm['accounting_cached_answers']} cached answers), "
          f"{hmm['wall_s']:.1f} s wall; wall-time ratio direct / HMM = {ratio:.3f}")
    if s.reuse_step:
        snapped, errs = runs[s.reuse_step].attrs, [e[0] for e in errors[s.reuse_step]]
        res["startup_reuse"] = (snapped["micro_runs"], snapped["wall_s"], *errs)
        was = ", ".join(f"t = {t:g}: {e:.4f} (was {e0[0]:.4f})" for t, e, e0 in zip(times, errs, errors[0.0]))
        print(f"start-up + reuse (rates snapped to {s.reuse_step}): {snapped['micro_runs']} micro runs, "
              f"{snapped['wall_s']:.1f} s wall; L2 errors {was}")
    return xr.Dataset({"direct_startup_u": start["u"], "direct_startup_u_stderr": start["u_stderr"],
                       "hmm_startup_u": (("time", "x"), runs[0.0]["u"].values[rows])})


def plot(ds, res, s: Settings, path: str) -> None:
    """Steady profiles (and the start-up)."""
    (slip, _), walls, eta, startup = res["slip_length"], ds["hmm_u_wall"], res["eta_le"][0], "time" in ds.dims
    ax = plt.subplots(1, 1 + startup, figsize=(5.5 + 5.5 * startup, 4.6), squeeze=False)[1][0]
    ax[0].errorbar(ds["y"], ds["direct_u"], 2 * ds["direct_u_stderr"], fmt="o", ms=3, label="direct walled DPD (2 se)")
    ax[0].errorbar(np.r_[0.0, ds["x"], s.width], np.r_[walls[0], ds["hmm_u"], walls[1]],
                   np.r_[0.0, 2 * ds["hmm_u_stderr"], 0.0], fmt="s-", ms=4, capsize=2,
                   label=f"HMM, {s.cells} cells, Navier slip l = {slip:.2f} from the near-wall cell (2 se)")
    ax[0].plot(ds["x"], ds["hmm_noslip_u"], "x:", color="0.5", label="HMM without slip (l = 0)")
    yy = np.linspace(0.0, s.width, 200)
    ax[0].plot(yy, navier_parabola(yy, res["force_density"], eta, s.width, slip), "k--", lw=0.8,
               label=f"Newtonian parabola, Lees-Edwards eta(0.3) = {eta:.3f}, same l")
    ax[0].set(xlabel="y (rc from the lower wall plane)", ylabel="u_x (rc/tau)", title=f"{'polymer ' * s.polymer}"
              f"steady, L2 error {res['steady_l2'][0]:.3f} (no slip: {res['steady_l2_noslip'][0]:.3f})")
    for k, t in enumerate(ds["time"].values if startup else ()):
        line = ax[1].errorbar(ds["y"], ds["direct_startup_u"][k], 2 * ds["direct_startup_u_stderr"][k], fmt="o", ms=3)
        ax[1].plot(ds["x"], ds["hmm_startup_u"][k], "-", color=line[0].get_color(), label=f"t = {t:g}")
        ax[1].set(xlabel="y (rc)", ylabel="u_x (rc/tau)", title="start-up from rest: direct (dots), HMM (lines)")
    for a in ax:
        a.legend(fontsize=7)
    plt.savefig(path, dpi=120, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--quick", action="store_true", help="smaller run: 5 macro cells, shorter direct DPD, smaller micro boxes")
    parser.add_argument("--polymer", action="store_true", help="the polymer solution (steady only; out gets _polymer)")
    parser.add_argument("--out", default="results/dpd_channel_flow", help="path stem of the .png and .nc")
    parser.add_argument("--client", default=None, help="scheduler address or 'sync' (default: embedded cluster)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    s = (POLYMER_QUICK if args.quick else POLYMER) if args.polymer else (QUICK if args.quick else Settings())
    out = args.out + ("_polymer" if args.polymer and args.out == parser.get_default("out") else "")
    res, t0 = {}, time.perf_counter()
    channel, ds = compare_steady(s, args.client, res)
    if s.startup_times:
        ds = xr.merge([ds, compare_startup(s, args.client, res, channel)], combine_attrs="drop")
    ds.attrs.update({k: (v if np.isscalar(v) else str(v)) for k, v in res.items()}, settings=repr(s))
    write_netcdf(ds, out + ".nc")  # (creates the directory)
    plot(ds, res, s, out + ".png")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
