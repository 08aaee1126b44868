"""Sparse linear solves ``A x = b`` for the macro Newton iterations.

Methods
-------
``"direct"``
    Sparse LU (SuperLU through :func:`scipy.sparse.linalg.splu`).
``"amg"``
    Algebraic multigrid (pyamg smoothed aggregation) as preconditioner of a
    Krylov method: CG when ``A`` is symmetric, GMRES otherwise. Matrices
    with a negative diagonal (the diffusion Jacobian ``J`` is negative
    definite) are solved as ``(-A) x = -b``. Convergence is checked on the
    true residual.
``"auto"``
    ``"direct"`` below :data:`AUTO_THRESHOLD` unknowns, else ``"amg"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ._validate import check_float

__all__ = ["solve_linear", "LinearSolveError", "LINEAR_METHODS", "AUTO_THRESHOLD"]

AUTO_THRESHOLD = 200_000
"""Number of unknowns from which ``method="auto"`` switches to AMG."""

LINEAR_METHODS = ("auto", "direct", "amg")


class LinearSolveError(RuntimeError):
    """Raised when a linear solve fails: singular matrix or Krylov non-convergence."""


def _amg(a: sp.csr_matrix, b: np.ndarray, rtol: float, maxiter: int) -> np.ndarray:
    import pyamg  # optional at import time of macro

    if a.diagonal().sum() < 0:
        a, b = -a, -b
    scale = abs(a).max()
    symmetric = abs(a - a.T).max() <= 1e-12 * scale
    ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric" if symmetric else "nonsymmetric")
    accel = "cg" if symmetric else "gmres"
    residuals: list[float] = []
    x = ml.solve(b, tol=rtol, maxiter=maxiter, accel=accel, residuals=residuals)
    bnorm = np.linalg.norm(b)
    relres = np.linalg.norm(b - a @ x) / bnorm
    # pyamg stops on its own (possibly preconditioned) norm; a few rounds of
    # iterative refinement on the true residual finish the job when it falls short.
    # Below the rounding floor 64 eps ||A|| ||x|| / ||b|| no solver can go.
    def target() -> float:
        floor = 64 * np.finfo(float).eps * scale * np.sqrt(a.shape[0]) * np.max(np.abs(x)) / bnorm
        return max(rtol, floor)

    for _ in range(3):
        if not (np.all(np.isfinite(x)) and relres > target()):
            break
        x = x + ml.solve(b - a @ x, tol=rtol, maxiter=maxiter, accel=accel, residuals=residuals)
        relres = np.linalg.norm(b - a @ x) / bnorm
    # Allow a small factor: pyamg stops on its own (possibly preconditioned) norm.
    if not np.all(np.isfinite(x)) or not relres <= 10.0 * target():
        raise LinearSolveError(
            f"solve_linear(): AMG-{accel} did not converge: relative residual {relres:.3e} > "
            f"10 * max(rtol, rounding floor) = {10 * target():.1e} after {len(residuals)} "
            f"iterations (n={a.shape[0]})"
        )
    return x


def solve_linear(A: Any, b: Any, *, method: str = "auto", rtol: float = 1e-12, maxiter: int = 500) -> np.ndarray:
    """Solve the sparse system ``A x = b``.

    Parameters
    ----------
    A : sparse matrix or 2D ndarray, shape (n, n)
    b : ndarray, shape (n,)
    method : {"auto", "direct", "amg"}
        See the module docstring.
    rtol : float
        Relative residual ``||b - A x||_2 / ||b||_2`` required by ``"amg"``.
    maxiter : int
        Krylov iteration cap for ``"amg"``.

    Returns
    -------
    x : ndarray, shape (n,)

    Raises
    ------
    LinearSolveError
        Singular matrix (direct) or no convergence (amg).
    """
    func = "solve_linear()"
    if sp.issparse(A):
        a = sp.csr_matrix(A, dtype=float)
    elif isinstance(A, np.ndarray):
        a = sp.csr_matrix(np.asarray(A, dtype=float))
    else:
        raise TypeError(f"{func}: `A` must be a scipy.sparse matrix or ndarray, got {type(A).__name__}")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{func}: `A` must be square, got shape {a.shape}")
    n = a.shape[0]
    b = np.asarray(b, dtype=float)
    if b.shape != (n,):
        raise ValueError(f"{func}: `b` must have shape ({n},), got {b.shape}")
    if method not in LINEAR_METHODS:
        raise ValueError(f"{func}: unknown `method` {method!r}; valid methods are {list(LINEAR_METHODS)}")
    rtol = check_float(rtol, "rtol", func, positive=True)
    if method == "auto":
        method = "direct" if n < AUTO_THRESHOLD else "amg"
    if not np.any(b):
        return np.zeros(n)
    if method == "amg":
        return _amg(a, b, rtol, maxiter)
    try:
        x = spla.splu(a.tocsc()).solve(b)
    except RuntimeError as err:  # SuperLU: "Factor is exactly singular"
        raise LinearSolveError(f"{func}: direct solve failed for n={n}: {err}") from err
    if not np.all(np.isfinite(x)):
        raise LinearSolveError(f"{func}: direct solve produced non-finite values (n={n})")
    return x
