"""DPD oracle: equation of state, temperature control, viscosity and shear thinning.

Reference numbers and where they come from:

* Groot & Warren, J. Chem. Phys. 107, 4423 (1997) (GW97): for rho > 2 the
  pressure follows p = rho kT + alpha a rho^2 with alpha ~ 0.101 (their fit,
  known to be rough: at rho = 3, a = 25 it gives 25.7); well-converged
  simulations give p ~ 23.6 at rho = 3, a = 25, kT = 1 (the reference value
  of this section).
  GW97 also show that the kinetic temperature drifts above kT with the time
  step for lambda = 1/2 and is controlled to ~1% at dt = 0.04 with lambda = 0.65.
* DPD-VV (Besold, Vattulainen, Karttunen & Polson, Phys. Rev. E 62, R7611,
  2000; compared with other integrators by Vattulainen et al., J. Chem.
  Phys. 116, 3967, 2002): velocity Verlet (lambda = 1/2) with the dissipative
  forces recomputed from v(t + dt); reported to hold the kinetic temperature
  at kT far better than the lambda = 1/2 Groot-Warren scheme at the same dt.
* Kinetic theory of the DPD viscosity (GW97 after Marsh, Backx & Ernst, Phys.
  Rev. E 56, 1676, 1997): eta = eta_D + eta_C with eta_D = rho D / 2,
  D = 45 kT / (2 pi gamma rho rc^3), eta_C = 2 pi gamma rho^2 rc^5 / 1575
  (conservative forces neglected).
* Walled channel (oracles.dpd.channel: frozen wall beads + bounce-back,
  Revenga, Zuniga & Espanol 1999; Pivkin & Karniadakis, J. Comput. Phys.
  207, 114, 2005): plane Poiseuille flow u = rho g (y + delta)(H + delta - y)
  / (2 eta) (Landau & Lifshitz, Fluid Mechanics, section 17); the curvature
  gives eta independently of the wall slip delta.
* Reverse (periodic) Poiseuille flow: a body force +g along x for y < Ly/2
  and -g above gives, for a Newtonian fluid, the parabolas
  u(y) = +-(rho g / 2 eta) y' (Ly/2 - y') (y' = y mod Ly/2) (Backer, Lowe,
  Hoefsloot & Iedema, J. Chem. Phys. 122, 154503, 2005).
"""

from __future__ import annotations

import math
import time

import numpy as np

from hmm import Budget
from oracles.dpd import DPD, block_estimate, pooled_blocks

from .references import (ALPHA_GW, P_REFERENCE, P_REFERENCE_ROUNDING, POLYMER,  # noqa: F401
                         kinetic_theory_viscosity, reverse_poiseuille_bin_means)
from .table import Column, Measured, Section, Text, agreement, weighted_mean

def state_point(config: DPD, shear_rate: float = 0.0, *, time_eq: float = 10.0, time_sample: float = 60.0,
                seed: int = 1, replicas: int = 1):
    """Run the oracle for ``time_eq`` + ``time_sample`` DPD time units; return
    (mean, stderr) dicts keyed by output name and the wall seconds."""
    budget = Budget(equilibration_steps=int(round(time_eq / config.dt)),
                    sampling_steps=int(round(time_sample / config.dt)), replicas=replicas)
    est = config.run(np.array([shear_rate]), seed=seed, budget=budget)
    return dict(zip(config.outputs, est.mean)), dict(zip(config.outputs, est.stderr)), est.cost_s


def pressure_dt_extrapolation(box: float = 6.0, dts=(0.04, 0.01), *, time_sample: float = 60.0, seed: int = 1):
    """Pressure and kT at rho = 3, a = 25 for each dt (lambda = 1/2) and their
    linear extrapolation to dt -> 0 from the two values: rows (dt, p, se, kT, se)
    and (p0, se0)."""
    rows = []
    for dt in dts:
        m, s, _ = state_point(DPD(box=(box,) * 3, dt=dt), time_sample=time_sample, seed=seed)
        rows.append((dt, m["pressure"], s["pressure"], m["temperature"], s["temperature"]))
    (h1, p1, s1, *_), (h2, p2, s2, *_) = rows[0], rows[-1]
    c1, c2 = h2 / (h2 - h1), -h1 / (h2 - h1)  # p(0) = c1 p(h1) + c2 p(h2) for p linear in dt
    return rows, (c1 * p1 + c2 * p2, math.hypot(c1 * s1, c2 * s2))


def integrator_rows(integrator: str = "dpd-vv", dts=(0.04, 0.02), *, box: float = 8.0,
                    time_sample: float = 100.0, seed: int = 1):
    """kT and pressure at rho = 3, a = 25 with ``integrator`` (lambda = 1/2) for
    each dt: rows (dt, p, se, kT, se, wall s)."""
    rows = []
    for dt in dts:
        m, s, cost = state_point(DPD(box=(box,) * 3, dt=dt, integrator=integrator), time_sample=time_sample,
                                 seed=seed)
        rows.append((dt, m["pressure"], s["pressure"], m["temperature"], s["temperature"], cost))
    return rows


def equation_of_state(densities=(2.0, 3.0, 4.0, 5.0), *, box: float = 6.0, time_sample: float = 40.0,
                      vv_lambda: float = 0.65, seed: int = 2):
    """(p - rho kT) / (a rho^2) per density and the least-squares alpha of
    p - rho kT = alpha a rho^2 over them (kT taken as the set value 1)."""
    rows = []
    for rho in densities:
        cfg = DPD(density=rho, box=(box,) * 3, vv_lambda=vv_lambda)
        m, s, _ = state_point(cfg, time_sample=time_sample, seed=seed)
        rows.append((rho, m["pressure"], s["pressure"], m["temperature"]))
    rho = np.array([r[0] for r in rows])
    excess = np.array([r[1] for r in rows]) - rho * 1.0
    se = np.array([r[2] for r in rows])
    x = 25.0 * rho**2
    wts = 1.0 / se**2
    alpha = float(np.sum(wts * x * excess) / np.sum(wts * x * x))
    resid = excess - alpha * x
    chi2 = float(np.sum(wts * resid**2)) / max(len(rho) - 1, 1)
    alpha_se = math.sqrt(max(chi2, 1.0) / np.sum(wts * x * x))  # scaled by the misfit of the rough law
    return rows, alpha, alpha_se


def le_viscosity(config: DPD, shear_rates, *, time_eq: float = 10.0, time_sample: float = 60.0, seed: int = 3,
                 replicas: int = 1):
    """eta(shear_rate) = shear_stress / shear_rate with its stderr, per rate:
    rows (shear_rate, eta, se, kT)."""
    rows = []
    for g in shear_rates:
        m, s, _ = state_point(config, g, time_eq=time_eq, time_sample=time_sample, seed=seed, replicas=replicas)
        rows.append((g, m["shear_stress"] / g, s["shear_stress"] / abs(g), m["temperature"]))
    return rows


def poiseuille_viscosity(config: DPD, body_force: float = 0.05, *, bins: int = 20, time_eq: float = 20.0,
                         time_sample: float = 200.0, blocks: int = 20, seed: int = 4):
    """Viscosity from a periodic reverse Poiseuille flow: per block of the run,
    fit the binned mean u_x(y) by (rho g / eta) phi(y) + c; return (eta, se,
    max shear rate in the flow, wall s). se from the spread of the block fits
    of 1 / eta (delta method)."""
    start = time.perf_counter()
    system = config.system(0.0, seed=seed, body_force=body_force)
    system.advance(int(round(time_eq / config.dt)))
    shape = reverse_poiseuille_bin_means(config.box[1], bins)
    design = np.column_stack([config.density * body_force * shape, np.ones(bins)])
    steps = int(round(time_sample / config.dt)) // blocks
    inv_eta = []
    for _ in range(blocks):
        _, prof = system.advance(steps, sample_every=config.sample_every, profile_bins=bins)
        u = prof[:, 0] / np.maximum(prof[:, 1], 1.0)
        inv_eta.append(np.linalg.lstsq(design, u, rcond=None)[0][0])
    mean, se = pooled_blocks(np.array(inv_eta)[:, None])
    eta, eta_se = 1.0 / mean[0], se[0] / mean[0] ** 2
    return eta, eta_se, config.density * body_force * config.box[1] / (4 * eta), time.perf_counter() - start


def walled_channel(*, width: float = 10.0, body_force: float = 0.02, time_eq: float = 150.0,
                   time_sample: float = 800.0, seed: int = 6):
    """Walled channel of the simple fluid: (kT at rest with lambda = 0.65 and its
    stderr, then the Poiseuille fit: eta from the curvature (mean, se), delta
    (mean, se), leaks, max shear rate, wall s)."""
    from oracles.dpd.channel import WalledChannel, fit_parabola, steady_profile

    start = time.perf_counter()
    rest = WalledChannel(DPD(vv_lambda=0.65), width=8.0).system(seed=seed)
    rest.advance(250)
    kt, kt_se, _ = block_estimate([rest.temperature_series(4000)[:, None]], 20)
    channel = WalledChannel(DPD(), width=width, body_force=body_force)
    prof = steady_profile(channel, time_eq=time_eq, time_sample=time_sample, seed=seed)
    fit = fit_parabola(prof, channel.force_density)
    rate = channel.force_density * width / (2 * fit["eta"][0])
    return ((float(kt[0]), float(kt_se[0])), fit["eta"], fit["delta"], prof.attrs["leaks"] + rest.leaks, rate,
            time.perf_counter() - start)


def shear_thinning(shear_rates=(0.03, 0.05, 0.1, 0.2, 0.5, 1.0), *, time_sample: float = 400.0, seed: int = 5,
                   **overrides):
    """eta(shear_rate) of a concentrated polymer solution (80% of the beads in
    chains of 20 beads with GW97 springs k = 4, r0 = 0; all a_ij = 25): rows
    as :func:`le_viscosity`."""
    cfg = DPD(**{**POLYMER, **overrides})
    return le_viscosity(cfg, shear_rates, time_eq=20.0, time_sample=time_sample, seed=seed)


P_SOURCE = "converged reference; GW97 fit gives 25.7"


def temperature_verdict(kt: float, se: float) -> Text:
    """Whether a kinetic temperature is within 2% of the set kT = 1, and how many stderr off it is."""
    return Text("{verdict} ({z:.1f} sigma from 1)", z=abs(kt - 1) / se,
                verdict="within 2%" if abs(kt - 1) < 0.02 else "off by %.1f%%" % (100 * (kt - 1)))


def _within_2_percent(kt: float, otherwise: str | None = None) -> str:
    """'within 2%' or, outside, ``otherwise`` (default: how far off)."""
    if abs(kt - 1) < 0.02:
        return "within 2%"
    return otherwise if otherwise is not None else "off by %.1f%%" % (100 * (kt - 1))


def _row(quantity, reference, measured, verdict) -> dict:
    return {"quantity": quantity, "reference": reference, "measured": measured, "agreement": verdict}


def _pressure_row(quantity: str, p: float, se: float, p0: float, reference: str = f"{P_REFERENCE}") -> dict:
    """p against the reference with the allowance |p - p(dt -> 0)| + rounding of the reference."""
    return _row(quantity, reference, Measured(p, se, ".3f"),
                agreement(p, se, P_REFERENCE, abs(p - p0) + P_REFERENCE_ROUNDING))


def dpd_vv_rows(p0: float, *, box: float = 8.0, time_sample: float = 100.0) -> list[dict]:
    """Rows of the DPD-VV integrator: kT and p at dt = 0.04 and 0.02 (box
    8^3, the runs of the lambda = 1/2 rows with the other integrator);
    ``p0`` is the dt -> 0 extrapolation, whose distance sets the p allowance."""
    rows = []
    for dt, p, se, kt, kse, _ in integrator_rows("dpd-vv", (0.04, 0.02), box=box, time_sample=time_sample):
        rows.append(_row(f"kT, DPD-VV (lambda = 0.5), dt = {dt}", "1 (set; Besold et al. 2000)",
                         Measured(kt, kse, ".4f"), temperature_verdict(kt, kse)))
        rows.append(_pressure_row(f"p, DPD-VV, dt = {dt}", p, se, p0))
    return rows


def dpd_vv_viscosity_row(gw_row, *, time_sample: float = 300.0) -> dict:
    """eta from Lees-Edwards with DPD-VV at the shear rate of ``gw_row`` (a
    :func:`le_viscosity` row of the Groot-Warren lambda = 1/2 fluid in the
    10^3 box, same run length, seed and 2 replicas) compared with it."""
    g, eta_gw, se_gw, _ = gw_row
    (_, eta, se, kt), = le_viscosity(DPD(box=(10.0, 10.0, 10.0), integrator="dpd-vv"), (g,), time_sample=time_sample,
                                     replicas=2)
    return _row(Text("eta from Lees-Edwards, DPD-VV, shear rate {g} (kT = {kt:.3f})", g=g, kt=kt),
                Text("Groot-Warren lambda = 0.5 at the same rate: {eta:.4f} +- {se:.4f}", eta=eta_gw, se=se_gw),
                Measured(eta, se, ".4f"), agreement(eta, math.hypot(se, se_gw), eta_gw))


def section() -> Section:
    """Report section: every number measured here (several minutes on one core)."""
    rows = []
    runs, (p0, p0_se) = pressure_dt_extrapolation(box=8.0, dts=(0.04, 0.02, 0.01), time_sample=100.0)
    for dt, p, se, kt, kse in runs:
        rows.append(_pressure_row(f"p, lambda = 0.5, dt = {dt}", p, se, p0, f"{P_REFERENCE} ({P_SOURCE})"))
        rows.append(_row(f"kT, lambda = 0.5, dt = {dt}", "1 (set)", Measured(kt, kse, ".4f"), _within_2_percent(kt)))
    rows.append(_row("p extrapolated to dt -> 0 (linear, dt = 0.04, 0.01)", f"{P_REFERENCE}",
                     Measured(p0, p0_se, ".3f"), agreement(p0, p0_se, P_REFERENCE, P_REFERENCE_ROUNDING)))
    m, s, _ = state_point(DPD(box=(8.0,) * 3, vv_lambda=0.65), time_sample=100.0)
    rows.append(_row("kT, lambda = 0.65, dt = 0.04", "1 (GW97: lambda = 0.65 controls kT)",
                     Measured(m["temperature"], s["temperature"], ".4f"), _within_2_percent(m["temperature"], "no")))
    rows.append(_pressure_row("p, lambda = 0.65, dt = 0.04", m["pressure"], s["pressure"], p0))
    rows += dpd_vv_rows(p0)
    eos, alpha, alpha_se = equation_of_state()
    for rho, p, se, _kt in eos:
        rows.append(_row(f"(p - rho kT)/(a rho^2) at rho = {rho:g} (lambda = 0.65)", f"{ALPHA_GW} (GW97, rough)",
                         Measured((p - rho) / (25 * rho**2), se / (25 * rho**2), ".4f"), "reported"))
    rows.append(_row("alpha fitted over rho = 2..5", f"{ALPHA_GW} (GW97)", Measured(alpha, alpha_se, ".4f"),
                     "reported"))
    fluid = DPD(box=(10.0, 10.0, 10.0))
    # small rates only: eta grows with kT and the pairwise thermostat lets kT rise as shear_rate^2
    le = le_viscosity(fluid, (0.1, 0.2), time_sample=300.0, replicas=2)
    eta_p, eta_p_se, gmax, _ = poiseuille_viscosity(fluid, 0.03, time_sample=800.0)
    eta_le, eta_le_se = weighted_mean([r[1] for r in le], [r[2] for r in le])
    for g, eta, se, kt in le:
        rows.append(_row(Text("eta from Lees-Edwards, shear rate {g} (kT = {kt:.3f})", g=g, kt=kt), "Poiseuille below",
                         Measured(eta, se, ".4f"), agreement(eta, math.hypot(se, eta_p_se), eta_p)))
    rows.append(_row("eta, Lees-Edwards, weighted over rates",
                     Text("reverse Poiseuille, g = 0.03: {eta:.4f} +- {se:.4f} (shear rates up to {gmax:.2f})",
                          eta=eta_p, se=eta_p_se, gmax=gmax),
                     Measured(eta_le, eta_le_se, ".4f"), agreement(eta_le, math.hypot(eta_le_se, eta_p_se), eta_p)))
    rows.append(dpd_vv_viscosity_row(le[-1]))
    (kt_w, kt_w_se), (eta_w, eta_w_se), (delta, delta_se), leaks, rate_w, _ = walled_channel()
    rows.append(_row("kT, walled channel H = 8 at rest (frozen-bead walls + bounce-back), lambda = 0.65",
                     "1 (walls thermostat like the bulk)", Measured(kt_w, kt_w_se, ".4f"),
                     Text("{verdict}; beads leaked through the walls: {leaks}", leaks=leaks,
                          verdict=_within_2_percent(kt_w, "no"))))
    rows.append(_row(Text("eta from the curvature of walled Poiseuille flow, H = 10, g = 0.02 (wall shear rate "
                          "{rate:.2f})", rate=rate_w), "Lees-Edwards above", Measured(eta_w, eta_w_se, ".4f"),
                     agreement(eta_w, math.hypot(eta_w_se, eta_le_se), eta_le)))
    rows.append(_row("effective no-slip plane beyond each wall plane, delta (same run)", "0 (no slip)",
                     Measured(delta, delta_se, ".3f", suffix=" rc"), agreement(delta, delta_se, 0.0)))
    (g_hot, eta_hot, se_hot, kt_hot), = le_viscosity(fluid, (0.5,), time_sample=200.0)
    rows.append(_row(Text("eta from Lees-Edwards, shear rate 0.5 (kT = {kt:.3f}: viscous heating)", kt=kt_hot),
                     "Poiseuille above", Measured(eta_hot, se_hot, ".4f"),
                     agreement(eta_hot, math.hypot(se_hot, eta_p_se), eta_p)))
    e_d, e_c = kinetic_theory_viscosity()
    rows.append(_row("eta, kinetic theory (GW97, Marsh-Backx-Ernst 1997)",
                     Text("eta_D + eta_C = {e_d:.3f} + {e_c:.3f} = {eta:.3f}", e_d=e_d, e_c=e_c, eta=e_d + e_c),
                     Text("{eta:.4f} (Lees-Edwards)", eta=eta_le),
                     Text("ratio {ratio:.2f} (theory neglects conservative forces)", ratio=eta_le / (e_d + e_c))))
    thin = shear_thinning()
    for g, eta, se, kt in thin:
        rows.append(_row(f"polymer solution (80% beads in N = 20 chains) eta at shear rate {g}", "shear thinning",
                         Measured(eta, se, ".3f", suffix=f" (kT = {kt:.3f})"), ""))
    plateau = thin[:3]  # the three lowest rates
    eta0, eta0_se = weighted_mean([r[1] for r in plateau], [r[2] for r in plateau])
    high = thin[-2]
    drop = (eta0 - high[1]) / math.hypot(eta0_se, high[2])
    rows.append(_row(f"polymer: low-rate plateau (rates {plateau[0][0]}-{plateau[-1][0]}) minus eta({high[0]})",
                     "> 0 (shear thinning)",
                     Text("{eta0:.3f} +- {eta0_se:.3f} minus {eta:.3f} +- {se:.3f} = {diff:.3f}", eta0=eta0,
                          eta0_se=eta0_se, eta=high[1], se=high[2], diff=eta0 - high[1]),
                     Text("{verdict} ({drop:.1f} sigma, one-sided 3 sigma)", drop=drop,
                          verdict="yes" if drop > 3 else "no")))
    return Section("DPD (Groot-Warren) oracle",
                   (Column("quantity", "quantity"), Column("reference", "reference (source)"),
                    Column("measured", "measured"), Column("agreement", "agreement")),
                   tuple(rows),
                   intro=("Simple fluid rho = 3, a = 25, gamma = 4.5, kT = 1, rc = 1 unless stated; stderr by block "
                          "averaging (20 blocks per run). Produced by `validation.dpd`.",))
