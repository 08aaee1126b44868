"""Validation of the DPD wall models: wall stresses, Couette slip, the near-wall micro model.

References:

* Momentum balance of steady plane Poiseuille flow: the walls carry the
  whole body force, tau(0) - tau(H) = rho g H (Landau & Lifshitz, *Fluid
  Mechanics*, section 17), exact for time means with any fluid and slip.
* Plane Couette flow has a uniform shear stress: wall stress / bulk shear
  rate is the bulk viscosity, to be compared with Lees-Edwards shear of the
  same fluid (Groot & Warren, J. Chem. Phys. 107, 4423, 1997).
* Navier slip (Navier 1823): u_s = l du/dn. If slip is a local property of
  the wall and the fluid next to it, the slip length measured in Couette
  flow at a given wall shear rate must equal the one of Poiseuille flow at
  the same wall shear rate -- the assumption behind using a Couette cell as
  the near-wall micro model of the HMM channel (examples/dpd_channel_flow.py;
  Ren & E, J. Comput. Phys. 204, 1, 2005, couple MD near walls in this
  spirit). For a depleted polymer layer, l ~ d (eta_bulk / eta_solvent - 1)
  (de Gennes, Scaling Concepts in Polymer Physics, 1979; Barnes, J.
  Non-Newtonian Fluid Mech. 56, 221, 1995).
"""

from __future__ import annotations

import math

import numpy as np

from hmm import Budget
from oracles.dpd import DPD
from oracles.dpd.channel import WalledChannel, fit_parabola, steady_profile
from oracles.dpd.slip import DPDWallSlip

from .dpd import le_viscosity
from .references import POLYMER
from .table import Column, Measured, Section, Text, agreement

POLYMER_FLUID = {k: v for k, v in POLYMER.items() if k != "box"}


def poiseuille(fluid: DPD, *, width: float = 10.0, lateral: float = 6.0, body_force: float = 0.03,
               exclude: float = 1.0, time_eq: float = 150.0, time_sample: float = 800.0, seed: int = 11):
    """Direct walled Poiseuille run: (channel, profile, fit_parabola dict over the bins more than
    ``exclude`` from the walls, wall shear rate of the fit)."""
    channel = WalledChannel(fluid, width=width, length=lateral, depth=lateral, body_force=body_force)
    prof = steady_profile(channel, bins=20, time_eq=time_eq, time_sample=time_sample, blocks=10, seed=seed)
    fit = fit_parabola(prof, channel.force_density, exclude=exclude)
    rate = channel.force_density * width / (2 * fit["eta"][0])  # the bulk parabola's slope at the walls
    return channel, prof, fit, rate


def couette_slip(fluid: DPD, bulk_rate: float, *, lateral: float, exclude: float, slip_guess: float,
                 height: float = 10.0, sampling_steps: int = 30000, seed: int = 12):
    """The near-wall cell queried so that its bulk rate is ~``bulk_rate``: Estimate."""
    oracle = DPDWallSlip(fluid, height=height, length=lateral, depth=lateral, exclude=exclude)
    nominal = bulk_rate * (1 + 2 * slip_guess / height)
    return oracle.run(np.array([nominal]), seed=seed, budget=Budget(equilibration_steps=5000,
                                                                    sampling_steps=sampling_steps))


def couette_viscosity(est) -> tuple[float, float]:
    """Bulk viscosity of a :class:`DPDWallSlip` estimate, shear_stress / bulk_shear_rate, and its
    stderr (relative errors added in quadrature)."""
    (_, rate, stress, _), (_, rate_se, stress_se, _) = est.mean, est.stderr
    eta = stress / rate
    return eta, eta * math.hypot(stress_se / stress, rate_se / rate)


def _row(quantity, reference, measured, verdict) -> dict:
    return {"quantity": quantity, "reference": reference, "measured": measured, "agreement": verdict}


def section() -> Section:
    """Report section (a few minutes on one core)."""
    rows = []
    for name, fluid, lateral, exclude, force in (
            ("simple fluid", DPD(), 6.0, 1.5, 0.03),
            ("polymer solution (80% beads in N = 20 chains)", DPD(**POLYMER_FLUID), 8.0, 2.5, 0.1)):
        channel, prof, fit, rate = poiseuille(fluid, lateral=lateral, body_force=force, exclude=exclude,
                                              time_sample=800.0 if fluid.chain_length == 1 else 2000.0)
        (lower, upper), (lo_se, up_se) = prof["wall_stress"].values, prof["wall_stress_stderr"].values
        expected = prof.attrs["n_fluid"] * channel.body_force / channel.wall_area
        diff_se = math.hypot(lo_se, up_se)  # conservative: the two walls' errors are anti-correlated
        rows.append(_row(f"{name}, Poiseuille H = 10, g = {force}: tau(0) - tau(H)",
                         Text("rho g H = {f:.4f} (momentum balance)", f=expected),
                         Measured(lower - upper, diff_se, ".4f"), agreement(lower - upper, diff_se, expected)))
        est = couette_slip(fluid, rate, lateral=lateral, exclude=exclude, slip_guess=fit["slip_length"][0])
        slip, bulk_rate, _, kt = est.mean
        slip_se = est.stderr[0]
        eta, eta_se = couette_viscosity(est)
        le_box = DPD(**{**(POLYMER_FLUID if fluid.chain_length > 1 else {}), "box": (8.0,) * 3})
        (_, eta_le, eta_le_se, _), = le_viscosity(le_box, (round(bulk_rate, 3),), time_sample=400.0)
        rows.append(_row(Text("{name}, Couette cell H = 10: stress / bulk rate at bulk rate {rate:.3f}", name=name,
                              rate=bulk_rate),
                         Text("Lees-Edwards eta at that rate = {eta:.3f} +- {se:.3f}", eta=eta_le, se=eta_le_se),
                         Measured(eta, eta_se, ".3f"), agreement(eta, math.hypot(eta_se, eta_le_se), eta_le)))
        if fluid.chain_length > 1:  # confinement: the same at twice the cell height
            wide = couette_slip(fluid, rate, lateral=lateral, exclude=exclude, slip_guess=fit["slip_length"][0],
                                height=20.0)
            w_eta, w_se = couette_viscosity(wide)
            rows.append(_row(
                Text("{name}, Couette cell H = 20: stress / bulk rate at bulk rate {rate:.3f} (a chain's end-to-end "
                     "distance is ~4.4 rc: confinement)", name=name, rate=wide.mean[1]),
                Text("Lees-Edwards eta above = {eta:.3f} +- {se:.3f}", eta=eta_le, se=eta_le_se),
                Text("{eta:.3f} +- {se:.3f}; slip length {slip:.3f} +- {slip_se:.3f} rc", eta=w_eta, se=w_se,
                     slip=wide.mean[0], slip_se=wide.stderr[0]),
                agreement(w_eta, math.hypot(w_se, eta_le_se), eta_le)))
        l_direct, l_direct_se = fit["slip_length"]
        z_se = math.hypot(slip_se, l_direct_se)
        rows.append(_row(
            Text("{name}: Navier slip length, Couette cell at the Poiseuille wall shear rate {rate:.3f}", name=name,
                 rate=rate),
            Text("the direct Poiseuille channel's (bulk parabola u / u' at the walls, bins > {exclude:g} rc from the "
                 "walls) = {slip:.3f} +- {se:.3f} rc", exclude=exclude, slip=l_direct, se=l_direct_se),
            Measured(slip, slip_se, ".3f", suffix=f" rc (kT = {kt:.3f})"), agreement(slip, z_se, l_direct)))
    return Section("DPD walls: wall stresses, Couette slip and the near-wall micro model",
                   (Column("quantity", "quantity"), Column("reference", "reference (source)"),
                    Column("measured", "measured"), Column("agreement", "agreement")),
                   tuple(rows),
                   intro=("Frozen-bead walls with bounce-back (`oracles.WalledChannel`); the near-wall micro model is "
                          "`oracles.DPDWallSlip` (a Couette cell between the same walls). Stderr by block averaging. "
                          "Produced by `validation.dpd_wall`.",))
