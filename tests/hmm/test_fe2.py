"""FE² through a real Coupler: the periodic laminate cell at every quadrature point of
a 2D macro body, against direct fine-scale solves that resolve the microstructure.

Homogenisation limit (Bensoussan, Lions & Papanicolaou 1978; Oleinik, Shamaev &
Yosifian 1992): for u_eps solving the elasticity problem with C(x / eps) and the same
Dirichlet data, ||u_eps - u_0||_L2 = O(eps), with u_0 the solution for the effective
stiffness C*. So the FE² displacement (u_0 up to the macro discretisation) approaches
the direct one at first order: the error roughly halves with eps. The macro P2 mesh
keeps its own discretisation error two orders below the homogenisation error at the
smallest eps used, and the fine P1 meshes (8 elements per period) theirs one order below.
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm import Coupler
from hmm.fe2 import fe2_closure, solve_fe2
from macro.solids import (Dirichlet, EllipticityError, LinearElasticClosure, SolidLaw, rectangle,
                          solve_quasistatic)
from oracles.solids import CauchyBornStress, CellProblemStress, Laminate
from oracles.solids.reference import laminate_stiffness

EPS = np.finfo(float).eps
LAM = Laminate(E=(10.0, 1.0), nu=(0.3, 0.3), fraction=0.5)


def boundary_data(x):
    X, Y = x
    return 0.02 * np.stack([X * Y + 0.5 * np.sin(np.pi * Y), 0.5 * X**2 - X * Y + 0.3 * np.sin(np.pi * X)])


def sides(g):
    return [Dirichlet(name, g) for name in ("left", "right", "bottom", "top")]


def direct_solve(eps: float, per_period: int = 8):
    n = int(round(per_period / eps))
    law = SolidLaw(rectangle(n, n), order=1, dirichlet=sides(boundary_data))
    res = solve_quasistatic(law, LinearElasticClosure(lambda x: LAM.stiffness(x / eps)))
    return law, res


def test_fe2_through_a_dask_coupler_approaches_the_direct_fine_solve(client_2w):
    macro_law = SolidLaw(rectangle(8, 8), order=2, dirichlet=sides(boundary_data))
    with Coupler(CellProblemStress(LAM, cells=8), client_2w) as coupler:
        fe2 = solve_fe2(macro_law, coupler)
    res = fe2.result
    # one Coupler batch of all quadrature points per Newton iteration (linear cell: update + check)
    assert res.closure_calls == 2 and fe2.ledger.batches == 2
    assert fe2.ledger.fresh_runs + fe2.ledger.cached_answers == 2 * macro_law.n_points
    assert fe2.closure.log.queries == 2 * macro_law.n_points
    # the cell is exact, so FE² is the homogenised solve with the closed-form C* (to round-off)
    hom = solve_quasistatic(macro_law, LinearElasticClosure(laminate_stiffness(LAM.E, LAM.nu, 0.5)))
    assert np.abs(res.u - hom.u).max() <= 1e-12 * np.abs(hom.u).max()
    errors = []
    for eps in (1 / 4, 1 / 8, 1 / 16):
        fine, direct = direct_solve(eps)
        ud = fine.nodal_displacement(direct.u)
        uh = macro_law.displacement_at(res.u, fine.mesh.p)
        errors.append(np.sqrt(np.mean((ud - uh) ** 2) / np.mean(ud**2)))
    # first order in eps: each halving of eps cuts the error by a factor near 2 (at least 1.5 here)
    assert errors[0] / errors[1] > 1.5 and errors[1] / errors[2] > 1.5
    assert errors[2] < 0.05


def test_cauchy_born_fe2_reproduces_a_uniform_deformation():
    oracle = CauchyBornStress("triangular", cutoff=1.8)
    H = np.array([[0.010, 0.004], [-0.003, -0.006]])
    law = SolidLaw(rectangle(3, 3), kinematics="finite", dirichlet=sides(lambda x: H @ x))
    with Coupler(oracle, "sync") as coupler:
        fe2 = solve_fe2(law, coupler, steps=2, tol=1e-13)
    F = law.kinematic_field(fe2.result.u)
    assert np.abs(F - (np.eye(2) + H).ravel()).max() <= 1e3 * EPS
    _, P, _ = oracle.response(np.eye(2) + H)
    assert np.abs(fe2.result.stress - P.ravel()).max() <= 1e-10 * np.abs(P).max()


def test_cauchy_born_past_the_inflection_point_raises_an_ellipticity_error():
    # LJ bonds stretched beyond the inflection point (26/7)^(1/6) sigma soften: under 20% uniaxial
    # stretch the acoustic tensor along x is no longer positive definite
    oracle = CauchyBornStress("triangular", cutoff=1.8)
    H = np.array([[0.2, 0.0], [0.0, 0.0]])
    assert oracle.reference_spacing * 1.2 > (26 / 7) ** (1 / 6)
    law = SolidLaw(rectangle(2, 2), kinematics="finite", dirichlet=sides(lambda x: H @ x))
    with Coupler(oracle, "sync") as coupler, pytest.raises(EllipticityError, match="quadrature point"):
        solve_fe2(law, coupler)


def test_fe2_closure_names_what_does_not_match():
    law = SolidLaw(rectangle(2, 2), kinematics="finite", dirichlet=sides(lambda x: 0 * x))
    with Coupler(CellProblemStress(LAM, cells=4), "sync") as coupler:
        with pytest.raises(ValueError, match="eps_xx"):
            fe2_closure(coupler, law)
        with pytest.raises(TypeError, match="SolidLaw"):
            fe2_closure(coupler, object())


@pytest.mark.parametrize("dim", [2, 3])
def test_law_and_oracle_column_names_agree(dim):
    from macro.solids import box

    mesh = rectangle(1, 1) if dim == 2 else box(1, 1, 1)
    small, finite = SolidLaw(mesh), SolidLaw(mesh, kinematics="finite")
    cell = CellProblemStress(LAM, dim=dim, cells=4)
    born = CauchyBornStress("triangular" if dim == 2 else "fcc", cutoff=1.8)
    assert cell.inputs == small.kinematic_names and set(small.closure_outputs()) <= set(cell.outputs)
    assert born.inputs == finite.kinematic_names and set(finite.closure_outputs()) <= set(born.outputs)
    with Coupler(cell, "sync") as c1, Coupler(born, "sync") as c2:
        fe2_closure(c1, small), fe2_closure(c2, finite)  # the by-name mapping accepts both
