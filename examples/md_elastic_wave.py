"""HMM elastodynamics with molecular-dynamics closures, against a direct MD of the whole chain.

Four cases on a periodic Lennard-Jones chain (reduced units, m = epsilon = sigma = 1):

1. T = 0, smooth tensile pulse: macro.ElasticWaveLaw (strain, velocity), stress
   from oracles.ChainStress (bond="lj") at each cell's strain (static chain).
2. T = 0, compressive plateau with steep edges ("a step that steepens"): the
   LJ chain stiffens in compression, so each travelling half's leading edge
   steepens into a shock, captured by the Nessyahu-Tadmor scheme.
3. T > 0, the smooth pulse on a thermal background, 4. T > 0, the step:
   macro.ThermoElasticWaveLaw (strain, velocity, total energy; heat flux
   q = 0), stress and temperature from oracles.NVEChainStress, a microcanonical
   chain at each cell's (strain, internal energy).

Micro reference: the whole chain (>= 10^4 atoms) by velocity Verlet from the
same macro initial condition, coarse-grained onto the macro cells
(oracles.md.chain_wave: at T > 0 an ensemble of thermalised, strain-mapped
chains run NVE, averaged over +-1 tau; the HMM initial energy per cell is
that ensemble's expectation). Reported: relative L2 errors of the strain and velocity fields,
the MD ensemble's own noise level for comparison, wall-time ratios, total
energy conservation, and for case 3 the reuse of micro runs by a
macro.TabulatedClosure (lattice in (strain, internal energy)) against
per-query micro runs: micro runs saved and the change of the errors.

Run: python examples/md_elastic_wave.py [--quick] [--atoms 10000] [--replicas 20] [--cases 1234]
Writes results/md_elastic_wave.png and results/md_elastic_wave.nc.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from oracles.md.chain_wave import A0_LJ as A0
from oracles.md.chain_wave import direct_wave, thermal_wave_ensemble


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: --quick 20 s, default 7 min (measured; the machine was shared, load average about 5 on 2 cores).")


def l2(a: np.ndarray, b: np.ndarray) -> float:
    """Relative L2 error ||a - b|| / ||b|| over the cells (b the reference)."""
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))


def noise_level(se: np.ndarray, b: np.ndarray) -> float:
    """The reference's own relative L2 noise, rms stderr / rms signal: the L2 error an exact
    macro solution would show against the ensemble average."""
    return float(np.sqrt(np.mean(se**2)) / np.sqrt(np.mean(b**2)))


def profiles(L: float, amplitude: float):
    """The two initial strain profiles: a smooth pulse and a compressive plateau with steep edges."""
    width = L / 20

    def pulse(X, t=0.0):
        return amplitude * np.exp(-0.5 * ((X - 0.5 * L) / width) ** 2)

    def step(X, t=0.0):
        w = L / 100
        return -amplitude * 0.5 * (np.tanh((X - 0.4 * L) / w) - np.tanh((X - 0.6 * L) / w))

    return {"pulse": pulse, "step": step}


def speed_bound(strain_range) -> float:
    """1.1 x the largest T = 0 long-wave speed a0 sqrt(phi''(a0 (1 + e)) / m) over the strains (CFL bound;
    temperature softens the LJ chain)."""
    e = np.linspace(*strain_range, 201)
    r = A0 * (1 + e)
    phi2 = 624 * r**-14 - 168 * r**-8
    return 1.1 * float(np.max(A0 * np.sqrt(phi2)))


def zero_temperature_case(name, strain0, args, t_end, cells):
    from hmm import Coupler, HMMSolver
    from macro import ElasticWaveLaw, Grid1D
    from oracles import ChainStress

    oracle = ChainStress(bond="lj", n_atoms=16)  # T = 0: the static stress of the strained chain
    L = args.atoms * A0
    grid = Grid1D(cells, (0.0, L))
    start = time.perf_counter()
    with Coupler(oracle, "sync", cache=True) as coupler:
        ds = HMMSolver(ElasticWaveLaw(oracle.density), grid, coupler, fixed_inputs={"temperature": 0.0},
                       units={"x": "sigma", "time": "tau"}).run(t_end, dt=t_end / 20, u0={"strain": strain0},
                                                                 save_every=20)
    hmm_wall = time.perf_counter() - start
    start = time.perf_counter()
    md_strain, md_velocity = direct_wave(args.atoms, strain0, float(ds.time[-1]), cells)
    md_wall = time.perf_counter() - start
    res = {"x": grid.centres[0], "initial": strain0(grid.centres[0]), "hmm_strain": ds["strain"].values[-1],
           "hmm_velocity": ds["velocity"].values[-1], "md_strain": md_strain, "md_velocity": md_velocity,
           "l2_strain": l2(ds["strain"].values[-1], md_strain), "l2_velocity": l2(ds["velocity"].values[-1], md_velocity),
           "hmm_wall_s": hmm_wall, "md_wall_s": md_wall, "micro_runs": int(ds.attrs["micro_runs"]), "dataset": ds}
    print(f"[{name}, T=0] HMM: {res['micro_runs']} MD stress queries, {hmm_wall:.2f} s; direct MD {args.atoms} "
          f"atoms: {md_wall:.2f} s; L2 strain {res['l2_strain']:.3e}, velocity {res['l2_velocity']:.3e}; "
          f"wall ratio MD/HMM {md_wall / hmm_wall:.2f}")
    return res


def thermal_hmm(strain0_cells, energy0, args, t_end, cells, speed, *, table, budget_factor=1):
    """One HMM run of ThermoElasticWaveLaw with the NVE-chain closure; per-query or tabulated."""
    from hmm import Budget, Coupler, HMMSolver
    from macro import Grid1D, TabulatedClosure, ThermoElasticWaveLaw
    from oracles import NVEChainStress

    oracle = NVEChainStress(bond="lj", n_atoms=args.micro_atoms)
    budget = Budget(args.micro_eq * budget_factor, args.micro_steps * budget_factor)
    grid = Grid1D(cells, (0.0, args.atoms * A0))
    law = ThermoElasticWaveLaw(oracle.density, sound_speed=speed)
    U0 = np.stack([strain0_cells, np.zeros(cells), energy0])
    start = time.perf_counter()
    def tabulated(cc):  # reuse by proximity: answers interpolated on an on-demand lattice in (strain, u)
        return TabulatedClosure(cc, [args.table_strain, args.table_energy], origin=[0.0, float(energy0.min())])

    with Coupler(oracle, "sync", cache=True, seed=args.seed) as coupler:
        solver = HMMSolver(law, grid, coupler, budget=budget, units={"x": "sigma", "time": "tau"},
                           closure_wrapper=tabulated if table else None)
        ds = solver.run(t_end, dt=t_end / 20, u0=U0, save_every=20)
    tab = solver.closure if table else None
    wall = time.perf_counter() - start
    totals = ds["energy"].values.sum(axis=1)
    return ds, wall, (tab.stats if tab else None), float(np.abs(totals - totals[0]).max() / abs(totals[0]))


def thermal_case(name, strain0, args, t_end, cells, speed, compare_reuse: bool):
    from macro import Grid1D

    start = time.perf_counter()
    md = thermal_wave_ensemble(args.atoms, strain0, args.temperature, t_end, cells, replicas=args.replicas,
                               seed=args.seed)
    md_wall = (time.perf_counter() - start) / args.replicas  # per replica: one direct MD run
    x = Grid1D(cells, (0.0, args.atoms * A0)).centres[0]
    runs = {"table": thermal_hmm(strain0(x), md["energy0"], args, t_end, cells, speed, table=True)}
    if compare_reuse:
        runs["per_query"] = thermal_hmm(strain0(x), md["energy0"], args, t_end, cells, speed, table=False)
        runs["table_x8"] = thermal_hmm(strain0(x), md["energy0"], args, t_end, cells, speed, table=True,
                                       budget_factor=8)
    res = {"x": x, "initial": strain0(x), "md": md, "md_wall_s": md_wall, "runs": {}}
    for key, (ds, wall, stats, drift) in runs.items():
        r = {"strain": ds["strain"].values[-1], "velocity": ds["velocity"].values[-1],
             "temperature": ds["temperature"].values[-1], "wall_s": wall, "energy_drift": drift,
             "micro_runs": int(ds.attrs["micro_runs"]), "queries": stats["queries"] if stats else None}
        r["l2_strain"], r["l2_velocity"] = l2(r["strain"], md["strain"]), l2(r["velocity"], md["velocity"])
        res["runs"][key] = r
        print(f"[{name}, T0={args.temperature}, {key}] HMM: {r['micro_runs']} NVE micro runs"
              + (f" for {r['queries']} closure queries" if stats else "")
              + f", {wall:.1f} s; L2 strain {r['l2_strain']:.3e}, velocity {r['l2_velocity']:.3e}; "
              f"total energy drift {drift:.1e} (relative); wall ratio MD(1 replica)/HMM {md_wall / wall:.2f}")
    print(f"[{name}, T0={args.temperature}] direct MD: {args.replicas} replicas x {args.atoms} atoms, "
          f"{md_wall:.1f} s per replica; ensemble noise level (rms stderr / rms signal): strain "
          f"{noise_level(md['strain_se'], md['strain']):.3e}, velocity {noise_level(md['velocity_se'], md['velocity']):.3e}")
    return res


def main(argv=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from hmm import plotting

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--atoms", type=int, default=10_000)
    parser.add_argument("--cells", type=int, default=200, help="macro cells at T = 0")
    parser.add_argument("--thermal-cells", type=int, default=100, help="macro cells at T > 0")
    parser.add_argument("--amplitude", type=float, default=0.02)
    parser.add_argument("--temperature", type=float, default=0.02, help="T0 of the thermal cases (epsilon/k_B)")
    parser.add_argument("--replicas", type=int, default=20, help="direct-MD ensemble size at T > 0")
    parser.add_argument("--micro-atoms", type=int, default=32)
    parser.add_argument("--micro-eq", type=int, default=1000)
    parser.add_argument("--micro-steps", type=int, default=8000)
    parser.add_argument("--table-strain", type=float, default=0.004)
    parser.add_argument("--table-energy", type=float, default=0.004)
    parser.add_argument("--cases", default="1234", help="which cases to run, e.g. 13")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2000 atoms, 80/40 cells, 3 replicas")
    parser.add_argument("--out", default="results")
    args = parser.parse_args(argv)
    if args.quick:
        args.atoms, args.cells, args.thermal_cells, args.replicas = 2000, 80, 40, 3
        args.micro_steps = 4000
    for c in (args.cells, args.thermal_cells):
        if args.atoms % c:
            parser.error("--atoms must be a multiple of --cells and --thermal-cells")

    L = args.atoms * A0
    shapes = profiles(L, args.amplitude)
    c0 = speed_bound((0.0, 0.0)) / 1.1
    t_end = 0.2 * L / c0
    print(f"chain: {args.atoms} LJ atoms, a0 = {A0:.6f}, sound speed c0 = {c0:.4f}; t_end = {t_end:.1f} "
          f"(a wave travels L/5)")
    results = {}
    if "1" in args.cases:
        results["pulse_T0"] = zero_temperature_case("pulse", shapes["pulse"], args, t_end, args.cells)
    if "2" in args.cases:
        results["step_T0"] = zero_temperature_case("step", shapes["step"], args, t_end, args.cells)
    if "3" in args.cases:
        results["pulse_T"] = thermal_case("pulse", shapes["pulse"], args, t_end, args.thermal_cells,
                                          speed_bound((0.0, args.amplitude)), compare_reuse=True)
    if "4" in args.cases:
        results["step_T"] = thermal_case("step", shapes["step"], args, t_end, args.thermal_cells,
                                         speed_bound((-args.amplitude, 0.0)), compare_reuse=False)
    if "pulse_T" in results:
        r = results["pulse_T"]["runs"]
        if "per_query" in r:
            saved = r["per_query"]["micro_runs"] - r["table"]["micro_runs"]
            print(f"[reuse] lattice ({args.table_strain} strain x {args.table_energy} energy): "
                  f"{r['table']['micro_runs']} micro runs instead of {r['per_query']['micro_runs']} "
                  f"({saved} saved, {saved / max(r['per_query']['micro_runs'], 1):.1%}); L2 velocity "
                  f"{r['per_query']['l2_velocity']:.3e} -> {r['table']['l2_velocity']:.3e} "
                  f"(x8 budget per node: {r['table_x8']['l2_velocity']:.3e}), strain {r['per_query']['l2_strain']:.3e} "
                  f"-> {r['table']['l2_strain']:.3e} (x8: {r['table_x8']['l2_strain']:.3e}); "
                  f"HMM difference table vs per-query (rel. L2 velocity) "
                  f"{l2(r['table']['velocity'], r['per_query']['velocity']):.3e}")

    out = Path(args.out)
    out.mkdir(exist_ok=True)
    data, attrs = {}, {"title": "HMM elastodynamics vs direct MD (LJ chain)", "atoms": args.atoms,
                       "t_end": t_end, "temperature": args.temperature, "replicas": args.replicas}
    for case, r in results.items():
        dim = f"x_{case}"
        data[f"{case}_x"] = (dim, r["x"], {"units": "sigma"})
        if "md_strain" in r:
            for f in ("hmm_strain", "hmm_velocity", "md_strain", "md_velocity"):
                data[f"{case}_{f}"] = (dim, r[f])
            attrs.update({f"{case}_{k}": r[k] for k in ("l2_strain", "l2_velocity", "hmm_wall_s", "md_wall_s",
                                                         "micro_runs")})
        else:
            for f in ("strain", "velocity", "temperature", "strain_se", "velocity_se", "energy0"):
                data[f"{case}_md_{f}"] = (dim, r["md"][f])
            for key, run in r["runs"].items():
                for f in ("strain", "velocity", "temperature"):
                    data[f"{case}_hmm_{key}_{f}"] = (dim, run[f])
                attrs.update({f"{case}_{key}_{k}": run[k] for k in ("l2_strain", "l2_velocity", "wall_s",
                                                                     "micro_runs", "energy_drift")})
            attrs[f"{case}_md_wall_s_per_replica"] = r["md_wall_s"]
    xr.Dataset({k: v for k, v in data.items() if not k.endswith("_x")},
               coords={k: v for k, v in data.items() if k.endswith("_x")}, attrs=attrs).to_netcdf(
        out / "md_elastic_wave.nc")

    plotting.use_style()
    fig, axes = plt.subplots(len(results), 3, figsize=(15, 3.3 * len(results)), constrained_layout=True,
                             squeeze=False)
    for row, (case, r) in zip(axes, results.items()):
        X = r["x"]
        row[0].plot(X, r["initial"], "k:", label="initial")
        if "md_strain" in r:
            row[0].plot(X, r["md_strain"], "-", lw=2, label="direct MD (coarse-grained)")
            row[0].plot(X, r["hmm_strain"], "--", lw=1.5, label="HMM")
            row[1].plot(X, r["md_velocity"], "-", lw=2, label="direct MD (coarse-grained)")
            row[1].plot(X, r["hmm_velocity"], "--", lw=1.5, label="HMM")
            # T = 0 has no temperature field: the third panel shows the HMM - MD difference instead
            row[2].plot(X, r["hmm_strain"] - r["md_strain"], "-", label="strain")
            row[2].plot(X, (r["hmm_velocity"] - r["md_velocity"]) / c0, "--",
                        label="velocity / c0")
            plotting.label(row[2], "X", "HMM - direct MD", x_unit="sigma", y_unit="1",
                           title=f"relative L2: strain {r['l2_strain']:.2e}, velocity {r['l2_velocity']:.2e}")
        else:
            md = r["md"]
            plotting.errorbar(row[0], X, md["strain"], md["strain_se"], fmt="-", lw=2, label="MD ensemble")
            plotting.errorbar(row[1], X, md["velocity"], md["velocity_se"], fmt="-", lw=2, label="MD ensemble")
            row[2].plot(X, md["temperature"], "-", lw=2, label="MD ensemble")
            for key, run in r["runs"].items():
                row[0].plot(X, run["strain"], "--", lw=1.2, label=f"HMM {key}")
                row[1].plot(X, run["velocity"], "--", lw=1.2, label=f"HMM {key}")
                row[2].plot(X, run["temperature"], "--", lw=1.2, label=f"HMM {key}")
            plotting.label(row[2], "X", "temperature T", x_unit="sigma", y_unit="epsilon/k_B")
        plotting.label(row[0], "X", "strain", x_unit="sigma", y_unit="1", title=f"{case}, t = {t_end:.0f} tau")
        plotting.label(row[1], "X", "velocity v", x_unit="sigma", y_unit="sigma/tau")
        for ax in row:
            if ax.has_data():
                ax.legend()
    fig.savefig(out / "md_elastic_wave.png", dpi=100)
    print(f"wrote {out / 'md_elastic_wave.png'} and {out / 'md_elastic_wave.nc'}")


if __name__ == "__main__":
    main()
