"""Equation-free toolkit against the averaged equation of the fast/slow SDE
(oracles.ef_models.fast_slow; Pavliotis & Stuart 2008, ch. 10) and the heat equation
(gap-tooth; Gear, Li & Kevrekidis 2003)."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .table import Column, Section, Text


def _stepper(model):
    from hmm.ef import coarse_stepper

    return coarse_stepper(model.lift, model.micro, model.restrict, coarse_names=("y",),
                          param_names=("lambda",))


def projective_orders() -> dict:
    from hmm.ef import projective_integrate
    from oracles import FastSlowSDE

    model = FastSlowSDE(eps=1e-7, lift_x=0.0)
    lam, y0 = 0.2, 0.5
    exact = solve_ivp(lambda t, y: model.averaged_rhs(y, lam), (0, 1), [y0], rtol=1e-12,
                      atol=1e-14).y[0, -1]
    out = {}
    with _stepper(model) as s:
        for method in ("pfe", "prk2"):
            errs = [abs(projective_integrate(s, [y0], 1.0, params=[lam], inner_dt=1e-6, inner_steps=10,
                                             projection_steps=M, method=method).U[-1, 0] - exact)
                    for M in (25_000, 50_000, 100_000)]
            out[method] = (errs, np.log2(np.array(errs[1:]) / np.array(errs[:-1])))
    return out


def folds(eps: float = 1e-5) -> list:
    from hmm.ef import coarse_fixed_point, continuation
    from oracles import FastSlowSDE

    model = FastSlowSDE(eps=eps, lift_x=None)
    with _stepper(model) as s:
        fp = coarse_fixed_point(s, [-2.0], [-1.0], horizon=0.05)
        branch = continuation(s, fp.U, -1.0, horizon=0.05, ds=0.1, n_points=80, p_range=(-1.0, 1.0))
    return branch.fold_points(), fp


def section() -> Section:
    """Report section: projective orders, a coarse fixed point and the folds of the coarse branch."""
    rows = []
    for method, (errs, orders) in projective_orders().items():
        rows.append({"check": f"projective {method}: error at t=1 for outer steps 0.025, 0.05, 0.1",
                     "reference": Text("order {order}", order=1 if method == "pfe" else 2),
                     "measured": Text("{e0:.2e}, {e1:.2e}, {e2:.2e}; orders {o0:.2f}, {o1:.2f}",
                                      e0=errs[0], e1=errs[1], e2=errs[2], o0=orders[0], o1=orders[1])})
    fold_points, fp = folds()
    y = fp.U[0]
    rows.append({"check": "coarse fixed point at lambda = -1",
                 "reference": Text("F(y*) = 0, F'(y*) = 1 - y*^2 = {slope:.5f}", slope=1 - y**2),
                 "measured": Text("y* = {y:.8f}, coarse eigenvalue {eig:.5f}", y=y, eig=fp.eigenvalues[0].real)})
    for p, u in fold_points:
        rows.append({"check": "fold of the coarse branch (lambda, y)",
                     "reference": "(2/3, -1)" if p > 0 else "(-2/3, 1)",
                     "measured": Text("({p:.8f}, {y:.6f})", p=p, y=u[0])})
    return Section(
        "Equation-free toolkit",
        (Column("check", "check"), Column("reference", "reference"), Column("measured", "measured")),
        tuple(rows),
        intro=("Fast/slow SDE with eps = 1e-7 (projective) and 1e-5 (fixed points, continuation); "
               "averaged equation dy/dt = lambda + y - y^3/3 (sigma = 0).",))
