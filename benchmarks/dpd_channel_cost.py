"""Cost of the HMM channel flow against the direct walled DPD as the channel widens.

The case is examples/dpd_channel_flow.py (same settings; ``--quick``, ``--polymer``). The direct run grows
with the width H: beads ~ rho Lx Lz (H + 2) (the fluid plus the frozen wall layers) and the time to reach
the steady state ~ rho H^2 / eta (equilibration scaled by (H / 10)^2 at fixed sampling), so its cost goes
as H^3 at a fixed cost per bead-step. The HMM cost does not grow: the same macro cells and, with g ~ 1/H
(the same wall stress), the same face shear rates, hence the same micro runs; the slip length measured at
H = 10 is reused at the wider widths (the same wall shear rate).

Measured: direct and HMM at H = 10 (the HMM with its slip fixed point, near-wall cell runs included) and
at every ``--widths``; model: the mean measured seconds per bead-step times beads times steps, also at 40
and 80 rc. Wall times exclude the cluster start. Every width's HMM solve runs on a Coupler of its own on the
same cluster: its first Newton iterate (u = 0) asks for the same states at every width (shear rate 0 and
its finite-difference copy), which a shared cache would answer without a run.

Last line: ``ratio = <direct wall s / HMM wall s>`` at the widest measured width.

Run: python benchmarks/dpd_channel_cost.py [--quick] [--polymer] [--widths 20] [--client sync]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))  # the example's wiring
import dpd_channel_flow as ex  # noqa: E402
from hmm import Coupler  # noqa: E402

MODEL_WIDTHS = (40.0, 80.0)


def direct_cost_model(s: ex.Settings, width: float, seconds_per_bead_step: float) -> tuple[int, int, float]:
    """(beads, steps, modelled wall seconds) of the direct channel of width ``width``."""
    beads = round(s.fluid().density * s.lateral**2 * (width + 2))
    steps = round((s.direct_eq * (width / s.width) ** 2 + s.direct_sample) / s.fluid().dt)
    return beads, steps, seconds_per_bead_step * beads * steps


def scan(s: ex.Settings, widths: tuple[float, ...], client=None) -> dict[float, dict]:
    """Direct and HMM steady runs at ``s.width`` and ``widths``: per width beads, steps, wall seconds, L2."""
    rows: dict[float, dict] = {}
    with Coupler(s.fluid(s.micro_box), client, seed=s.seed, cache=True) as coupler, \
            Coupler(s.near_wall_oracle(), client, seed=s.seed, cache=True) as wall_coupler:
        coupler.evaluate(np.array([[0.1], [0.2]]), s.micro_budget(50))  # start workers, load the numba cache
        for w in (s.width, *widths):
            ch, prof, fit = ex.direct_steady(s, w)
            p = prof.attrs
            print(f"direct steady  H={w:g}: {p['n_beads']} beads, {p['steps']} steps, {p['wall_s']:.1f} s; Navier "
                  f"slip length {fit['slip_length'][0]:.3f} +- {fit['slip_length'][1]:.3f}")
            if w == s.width:  # the fixed point measures the slip length (and its force density sets the others)
                f = ch.force_density
                ds, _, _ = ex.hmm_steady_with_slip(s, coupler, wall_coupler, f, w, s.slip_budget())
                slip, hmm_s = ds.attrs["slip_length"], ds.attrs["fixed_point_wall_s"]
            else:
                with Coupler(coupler.oracle, coupler.client or "sync", seed=s.seed, cache=True) as cold:
                    ds = ex.hmm_steady(s, cold, f * s.width / w, w, slip)
                hmm_s = ds.attrs["wall_s"]
            y = prof["y"].values
            se = np.hypot(ex.on_bins(ds, w, y, "u_stderr"), prof["u_stderr"].values)
            rows[w] = {"beads": p["n_beads"], "steps": p["steps"], "direct_s": p["wall_s"], "hmm_s": hmm_s,
                       "micro_runs": ds.attrs.get("fresh_runs", ds.attrs["micro_runs"]), "l2": ex.l2(ex.on_bins(ds, w, y), prof["u"].values, se)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the example's quick settings, no extra width")
    parser.add_argument("--polymer", action="store_true", help="the polymer solution")
    parser.add_argument("--widths", type=float, nargs="*", default=None,
                        help="extra measured widths (rc; default 20, none with --quick)")
    parser.add_argument("--client", default=None, help="scheduler address or 'sync' (default: embedded cluster)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    s = (ex.POLYMER_QUICK if args.quick else ex.POLYMER) if args.polymer else (ex.QUICK if args.quick else ex.Settings())
    widths = tuple(args.widths) if args.widths is not None else (() if args.quick else (20.0,))
    start = time.perf_counter()
    rows = scan(s, widths, args.client)
    per_bead_step = float(np.mean([r["direct_s"] / (r["beads"] * r["steps"]) for r in rows.values()]))
    print("width | direct beads | direct steps | direct s (measured / model) | HMM steady s")
    for w in sorted({*rows, *MODEL_WIDTHS}):
        beads, steps, model = direct_cost_model(s, w, per_bead_step)
        r = rows.get(w, {"direct_s": np.nan, "hmm_s": np.nan})
        print(f"{w:5g} | {beads:12d} | {steps:12d} | {r['direct_s']:8.1f} / {model:8.1f} | {r['hmm_s']:8.1f}")
    for w, r in rows.items():
        print(f"H = {w:g}: L2 error HMM vs direct = {r['l2'][0]:.4f}, {r['micro_runs']} HMM micro runs, wall-time "
              f"ratio direct / HMM = {r['direct_s'] / r['hmm_s']:.3f}"
              + ("" if w == s.width else f" (the slip length of H = {s.width:g} reused)"))
    print(f"total {time.perf_counter() - start:.0f} s")
    widest = rows[max(rows)]
    print(f"ratio = {widest['direct_s'] / widest['hmm_s']:.3f}")


if __name__ == "__main__":
    main()
