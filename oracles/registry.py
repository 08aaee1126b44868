"""The registries of the oracles and of the equation-free micro models, by name.

:data:`ORACLES` maps a registry name to an oracle class (resolved on first
use, so importing :mod:`oracles` stays cheap); :func:`get_oracle` accepts a
registry name (old names too), an oracle class, or ``"package.module:Class"``
for a user's own oracle. :func:`example` builds a test-sized case of every
registered oracle (the contract test runs them all); :data:`EF_MODELS` lists
the lift / micro / restrict models of :mod:`hmm.ef`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from typing import Any, NamedTuple

import numpy as np

from hmm.contract import Budget


class _LazyRegistry(Mapping):
    """Name -> class, imported on first access; old names are accepted but not listed."""

    def __init__(self, paths: dict[str, str], aliases: dict[str, str]) -> None:
        self._paths, self._aliases, self._cache = dict(paths), dict(aliases), {}

    def canonical(self, name: str) -> str:
        """The listed name of ``name`` (itself, or the new name of an old one)."""
        return self._aliases.get(name, name)

    def __getitem__(self, name: str) -> type:
        key = self.canonical(name)
        if key not in self._cache:
            module, _, attr = self._paths[key].partition(":")
            self._cache[key] = getattr(import_module(module), attr)
        return self._cache[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sorted(self._paths)})"


ORACLES: Mapping[str, type] = _LazyRegistry({
    "lj_stress": "oracles.md.stress:LJStress",
    "chain_stress": "oracles.md.chain:ChainStress",
    "nve_chain_stress": "oracles.md.thermal:NVEChainStress",
    "dpd_shear_stress": "oracles.dpd.oracle:DPDShearStress",
    "dpd_wall_slip": "oracles.dpd.slip:DPDWallSlip",
    "kmc_coverages": "oracles.kmc.oracle:KMCCoverages",
    "cell_problem_flux": "oracles.cell.problem:CellProblemFlux",
    "noisy_cell_problem_flux": "oracles.cell.noisy:NoisyCellProblemFlux",
    "cell_problem_stress": "oracles.solids.cell:CellProblemStress",
    "cauchy_born_stress": "oracles.solids.cauchy_born:CauchyBornStress",
    "carreau_shear_stress": "oracles.constitutive:CarreauShearStress",
    "nonlinear_elastic_stress": "oracles.constitutive:NonlinearElasticStress",
    "lammps_stress": "oracles.lammps_:LammpsStress",
    "ase_stress": "oracles.ase_:ASEStress",
    "trivial_sum": "oracles.toy:TrivialSum",
    "noisy_quadratic": "oracles.toy:NoisyQuadratic",
}, aliases={
    "lennard_jones_md": "lj_stress", "lj_chain": "chain_stress", "nve_chain": "nve_chain_stress",
    "dpd": "dpd_shear_stress", "lattice_kmc": "kmc_coverages", "cell_problem": "cell_problem_flux",
    "noisy_cell_problem": "noisy_cell_problem_flux", "carreau": "carreau_shear_stress",
    "nonlinear_elastic": "nonlinear_elastic_stress", "lammps": "lammps_stress", "ase": "ase_stress",
})
"""Every oracle of the package: registry name -> class (old names are accepted as keys)."""

EF_MODELS: Mapping[str, type] = _LazyRegistry({
    "fast_slow_sde": "oracles.ef_models.fast_slow:FastSlowSDE",
    "diffusion_tooth": "oracles.ef_models.tooth_diffusion:DiffusionTooth",
    "kmc_tooth": "oracles.kmc.tooth:KMCTooth",
    "mean_field_flow": "oracles.kmc.meanfield:MeanFieldFlow",
}, aliases={})
"""The equation-free micro models (lift / micro / restrict, not oracles themselves:
:mod:`hmm.ef` wraps them): registry name -> class."""


def get_oracle(name_or_class: Any) -> type:
    """The oracle class for a registry name, an oracle class, or ``"package.module:ClassName"``.

    Raises
    ------
    ValueError
        Unknown registry name (the message lists the valid names) or a
        ``module:Class`` path that cannot be imported.
    TypeError
        The class found does not follow the :class:`~hmm.contract.Oracle`
        protocol (``inputs``, ``outputs`` and ``run``), or the argument is
        neither a string nor a class.
    """
    if isinstance(name_or_class, type):
        cls = name_or_class
    elif isinstance(name_or_class, str) and ":" in name_or_class:
        module, _, attr = name_or_class.partition(":")
        try:
            cls = getattr(import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"get_oracle(): cannot import {name_or_class!r}: {exc}") from None
    elif isinstance(name_or_class, str):
        if name_or_class not in ORACLES:
            raise ValueError(f"get_oracle(): unknown oracle {name_or_class!r}; valid names are "
                             f"{sorted(ORACLES)}, or 'package.module:ClassName'")
        return ORACLES[name_or_class]
    else:
        raise TypeError("get_oracle(): expected a registry name, 'package.module:ClassName' or an "
                        f"oracle class, got {type(name_or_class).__name__}")
    if not (isinstance(cls, type) and callable(getattr(cls, "run", None))
            and hasattr(cls, "inputs") and hasattr(cls, "outputs")):
        raise TypeError(f"get_oracle(): {name_or_class!r} is not an oracle class (it needs "
                        "`inputs`, `outputs` and `run(state, *, seed, budget)`)")
    return cls


class OracleCase(NamedTuple):
    """A test-sized instance of an oracle with a valid query, a query it must refuse
    (with :class:`~hmm.contract.OracleSetupError`) and a small budget."""

    oracle: Any
    state: np.ndarray
    bad_state: np.ndarray
    budget: Budget


def _lj_fcc_setup() -> str:
    from .lammps_ import lj_fcc_setup

    return lj_fcc_setup(cells=3, density=0.5)


_EXAMPLES: dict[str, Callable[[type], tuple[Any, list[float], list[float], Budget]]] = {
    "lj_stress": lambda c: (c(unit_cells=3, density=0.5, sample_every=5, blocks=5), [0.01, 1.0], [0.0, -1.0],
                            Budget(20, 100)),
    "chain_stress": lambda c: (c(n_atoms=16, sample_every=5, blocks=5), [0.02, 0.3], [-1.5, 0.3], Budget(50, 100)),
    "nve_chain_stress": lambda c: (c(bond="lj", n_atoms=16, sample_every=5, blocks=5), [0.0, -0.95], [0.0, -2.0],
                                   Budget(50, 100)),
    "dpd_shear_stress": lambda c: (c(box=(4.0, 4.0, 4.0), blocks=5), [0.3], [2.0], Budget(20, 50)),
    "dpd_wall_slip": lambda c: (c(height=6.0, length=4.0, depth=4.0, exclude=1.0, bins=6, blocks=4), [0.3], [0.0],
                                Budget(300, 100)),
    "kmc_coverages": lambda c: (c(shape=(8, 8), blocks=4), [0.45], [1.5], Budget(50, 200)),
    "cell_problem_flux": lambda c: (c(_coefficient(), 1, 16), [0.3, 1.0], [0.3, np.nan], Budget()),
    "noisy_cell_problem_flux": lambda c: (c(_coefficient(), cells=16), [0.3, 1.0], [0.3], Budget(sampling_steps=4)),
    "cell_problem_stress": lambda c: (c(_laminate(), cells=8), [0.01, -0.002, 0.004], [0.01, np.nan, 0.0],
                                      Budget()),
    "cauchy_born_stress": lambda c: (c("triangular", cutoff=1.8), [1.01, 0.002, 0.0, 0.99], [0.1, 0.0, 0.0, 0.1],
                                     Budget()),
    "carreau_shear_stress": lambda c: (c(noise=0.1), [0.5], [np.nan], Budget(sampling_steps=4)),
    "nonlinear_elastic_stress": lambda c: (c(beta=-3.0, noise=0.2), [0.1], [0.1, 0.2], Budget(sampling_steps=4)),
    "lammps_stress": lambda c: (c(_lj_fcc_setup(), sample_every=5, blocks=5), [0.0, 1.0], [-1.5, 1.0],
                                Budget(20, 100)),
    "ase_stress": lambda c: (c(), [0.01], [-1.5], Budget()),
    "trivial_sum": lambda c: (c(2), [0.25, 0.5], [0.25, np.inf], Budget()),
    "noisy_quadratic": lambda c: (c(slope=(1.0, -2.0), curvature=0.5, noise=0.3), [0.2, 0.4], [0.2],
                                  Budget(sampling_steps=4)),
}


def _coefficient():
    from .cell.coefficients import LayeredCosine

    return LayeredCosine()


def _laminate():
    from .solids.microstructure import Laminate

    return Laminate(E=(10.0, 1.0), nu=(0.3, 0.25), fraction=0.5)


def example(name: str) -> OracleCase:
    """A test-sized :class:`OracleCase` of the registered oracle ``name`` (fast: well under a
    second per run), used by the contract test."""
    key = ORACLES.canonical(name) if name in ORACLES else name
    if key not in _EXAMPLES:
        raise ValueError(f"example(): no example for {name!r}; registered: {sorted(_EXAMPLES)}")
    oracle, state, bad, budget = _EXAMPLES[key](ORACLES[key])
    return OracleCase(oracle, np.array(state, dtype=float), np.array(bad, dtype=float), budget)


__all__ = ["ORACLES", "EF_MODELS", "get_oracle", "OracleCase", "example"]
