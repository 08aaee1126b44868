"""Adaptive HMM around an inclusion: indicator field and where micro runs went.

Runs :class:`hmm.adaptive.AdaptiveSteadySolver` on the 1D inclusion problem of
:mod:`validation.adaptivity` (noisy cell-problem oracle, goal = mean of
u over (0.5, 0.75)) and writes ``results/adaptive_inclusion.png`` (indicator
densities per iteration, micro runs in (x, iteration) coloured by kind and
sized by samples, error vs micro seconds) and ``results/adaptive_inclusion.nc``.

Usage: ``python examples/adaptive_inclusion.py [sync|local] [tol]``
("local" starts the embedded Dask cluster; default "sync").
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from validation import adaptivity as va  # noqa: E402


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: 5 s (measured, with or without --quick: the default run is already quick).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("client", nargs="?", default="sync", choices=("sync", "local"),
                        help="'sync' (in process, default) or 'local' (embedded Dask cluster)")
    parser.add_argument("tol", nargs="?", type=float, default=5e-4, help="goal tolerance (default 5e-4)")
    parser.add_argument("--quick", action="store_true",
                        help="accepted for uniformity with the other examples: the default run is already quick")
    args = parser.parse_args()
    client, tol = args.client, args.tol
    coef = va.problems()["inclusion"]
    ds = va.adaptive_run(coef, tol, noise=0.01, client=None if client == "local" else "sync",
                         cells=16, max_cells=256, max_iterations=30)
    os.makedirs("results", exist_ok=True)
    ds.to_netcdf("results/adaptive_inclusion.nc")
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    eta = ds.eta_modelling + ds.eta_discretisation
    im = ax[0].pcolormesh(ds.xi, ds.iteration, np.log10(eta + 1e-12), shading="nearest", cmap="viridis")
    fig.colorbar(im, ax=ax[0], label="log10 indicator density (modelling + disc.)")
    ax[0].set(xlabel="x (dimensionless)", ylabel="iteration", title="indicator field")
    for kind, colour in (("seed", "grey"), ("fresh_run", "tab:blue"), ("sample_more", "tab:red")):
        sel = ds.run_kind.values == kind
        ax[1].scatter(ds.run_x.values[sel], ds.run_iteration.values[sel], s=4 * np.sqrt(ds.run_samples.values[sel]),
                      c=colour, label=kind, alpha=0.7)
    xs = np.linspace(0, 1, 400)
    top = float(ds.iteration.max())
    m = coef.modulation(xs[:, None])
    ax[1].plot(xs, top * (m - m.min()) / (m.max() - m.min()), "k-", lw=0.8, label="m(x), scaled (inclusion)")
    ax[1].set(xlabel="x (dimensionless)", ylabel="iteration", title="where micro runs were spent")
    ax[1].legend(fontsize=8)
    ax[2].loglog(ds.micro_seconds, ds.est_error, "o-", label="estimated (conf. 95%)")
    ax[2].loglog(ds.micro_seconds, np.abs(ds.true_error), "s--", label="true |error|")
    ax[2].axhline(tol, color="k", lw=0.8, label="tolerance")
    ax[2].set(xlabel="micro cost (s)", ylabel="goal error (dimensionless)", title="error vs micro cost")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig("results/adaptive_inclusion.png", dpi=120)
    print(f"stop: {ds.attrs['stop_reason']}, micro runs {ds.attrs['micro_runs']}, "
          f"micro s {ds.attrs['micro_seconds']:.3f}, final |error| {abs(float(ds.true_error[-1])):.2e}; "
          "wrote results/adaptive_inclusion.png")


if __name__ == "__main__":
    main()
