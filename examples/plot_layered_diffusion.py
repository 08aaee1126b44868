"""Figures of an `hmm run examples/layered_diffusion.toml` result.

Usage: python examples/plot_layered_diffusion.py [results/layered_diffusion.nc] [out.png]
(needs the `examples` extra: pip install -e ".[examples]")

Top row: the macro field u at the first, middle and last record. Bottom row:
the micro flux across the layers (flux_x at x-faces) at the last record, its
standard error (or, where the oracle is deterministic and the stderr is zero
everywhere, the fresh micro runs per record), and the micro wall seconds
spent per record, i.e. where the micro work went.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: 3 s (measured, with or without --quick), after `hmm run examples/layered_diffusion.toml` (3 s).")


def main(path: str = "results/layered_diffusion.nc", out: str = "results/layered_diffusion.png") -> None:
    from hmm import plotting

    plotting.use_style()
    ds = xr.load_dataset(path)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), constrained_layout=True)
    times = [0, ds.sizes["time"] // 2, ds.sizes["time"] - 1]
    vmax = float(ds["u"].max())
    for ax, i in zip(axes[0], times):
        im = ds["u"].isel(time=i).plot.pcolormesh(ax=ax, x="x", y="y", vmin=0, vmax=vmax,
                                                  cmap="viridis", add_colorbar=False)
        ax.set_title(f"u at t = {float(ds.time[i]):.3g}")
        ax.set_aspect("equal")
        ax.grid(False)
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="u")
    last = ds.isel(time=-1)
    last["flux_x"].plot.pcolormesh(ax=axes[1, 0], x="x_face", y="y", cmap="RdBu_r")
    axes[1, 0].set_title("flux_x (across layers), last record")
    axes[1, 0].set_aspect("equal")
    axes[1, 0].grid(False)
    if float(abs(last["flux_x_stderr"]).max()) > 0:
        last["flux_x_stderr"].plot.pcolormesh(ax=axes[1, 1], x="x_face", y="y", cmap="magma")
        axes[1, 1].set_title("its standard error")
        axes[1, 1].set_aspect("equal")
        axes[1, 1].grid(False)
    else:  # a deterministic oracle: no panel spent on an all-zero field
        axes[1, 1].plot(ds["time"].values, ds["micro_runs"].values, "o-")
        plotting.label(axes[1, 1], "time t", "fresh micro runs since previous record", x_unit="1",
                       title="micro runs per record\n(stderr is zero: deterministic cell problem)")
    axes[1, 2].bar(ds["time"].values, ds["micro_cost_s"].values,
                   width=0.8 * float(ds.time[1] - ds.time[0]) if ds.sizes["time"] > 1 else 0.01)
    plotting.label(axes[1, 2], "time t", "micro wall time since previous record", x_unit="1", y_unit="s")
    axes[1, 2].set_title(f"{int(ds.attrs['micro_runs'])} micro runs in all")
    fig.suptitle(ds.attrs.get("title", "HMM run"))
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("path", nargs="?", default="results/layered_diffusion.nc", help="results file of the run")
    parser.add_argument("out", nargs="?", default="results/layered_diffusion.png", help="figure to write")
    parser.add_argument("--quick", action="store_true",
                        help="accepted for uniformity with the other examples: plotting is quick either way")
    args = parser.parse_args()
    main(args.path, args.out)
