r"""Reference physics of the Lennard-Jones models (reduced LJ units).

* Equations of state of the full LJ fluid: the MBWR equation of Johnson,
  Zollweg & Gubbins, Mol. Phys. 78, 591 (1993) (Table 10 coefficients), and
  the Helmholtz-energy equation of Thol, Rutkai, Koester, Lustig, Span &
  Vrabec, J. Phys. Chem. Ref. Data 45, 023101 (2016) (coefficients as in
  NIST's teqp, checked against the values of the paper's own code ljfeos.cpp
  by :func:`thol_check`). :func:`eos_reference` gives pressure and excess
  energy with the difference of the two as the allowance for the
  reference's own error. Both are for the untruncated potential: compare
  with MD plus tail corrections (:func:`oracles.md.tail_corrections`).
* Static fcc lattice sums of the truncated LJ crystal (Born & Huang,
  *Dynamical Theory of Crystal Lattices*, 1954): energy, pressure and the
  elastic constants C11, C12, C44 by direct summation over neighbour shells.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

# --------------------------------------------------------------------- JZG 1993 MBWR
JZG_X = np.array([
    0.8623085097507421, 2.976218765822098, -8.402230115796038, 0.1054136629203555,
    -0.8564583828174598, 1.582759470107601, 0.7639421948305453, 1.753173414312048,
    2.798291772190376e3, -4.8394220260857657e-2, 0.9963265197721935, -3.698000291272493e1,
    2.084012299434647e1, 8.305402124717285e1, -9.574799715203068e2, -1.477746229234994e2,
    6.398607852471505e1, 1.603993673294834e1, 6.805916615864377e1, -2.791293578795945e3,
    -6.245128304568454, -8.116836104958410e3, 1.488735559561229e1, -1.059346754655084e4,
    -1.131607632802822e2, -8.867771540418822e3, -3.986982844450543e1, -4.689270299917261e3,
    2.593535277438717e2, -2.694523589434903e3, -7.218487631550215e2, 1.721802063863269e2])
JZG_GAMMA = 3.0


def jzg_eos(temperature: float, density: float) -> tuple[float, float]:
    """(pressure, excess internal energy per atom) of the full LJ fluid, JZG 1993 eqs. (5)-(9)."""
    x, t, r, g = JZG_X, temperature, density, JZG_GAMMA
    x = np.concatenate([[0.0], x])  # 1-based like the paper
    a = [x[1] * t + x[2] * math.sqrt(t) + x[3] + x[4] / t + x[5] / t**2,
         x[6] * t + x[7] + x[8] / t + x[9] / t**2, x[10] * t + x[11] + x[12] / t, x[13],
         x[14] / t + x[15] / t**2, x[16] / t, x[17] / t + x[18] / t**2, x[19] / t**2]
    b = [x[20] / t**2 + x[21] / t**3, x[22] / t**2 + x[23] / t**4, x[24] / t**2 + x[25] / t**3,
         x[26] / t**2 + x[27] / t**4, x[28] / t**2 + x[29] / t**3,
         x[30] / t**2 + x[31] / t**3 + x[32] / t**4]
    c = [x[2] * math.sqrt(t) / 2 + x[3] + 2 * x[4] / t + 3 * x[5] / t**2, x[7] + 2 * x[8] / t + 3 * x[9] / t**2,
         x[11] + 2 * x[12] / t, x[13], 2 * x[14] / t + 3 * x[15] / t**2, 2 * x[16] / t,
         2 * x[17] / t + 3 * x[18] / t**2, 3 * x[19] / t**2]
    d = [3 * x[20] / t**2 + 4 * x[21] / t**3, 3 * x[22] / t**2 + 5 * x[23] / t**4,
         3 * x[24] / t**2 + 4 * x[25] / t**3, 3 * x[26] / t**2 + 5 * x[27] / t**4,
         3 * x[28] / t**2 + 4 * x[29] / t**3, 3 * x[30] / t**2 + 4 * x[31] / t**3 + 5 * x[32] / t**4]
    f = math.exp(-g * r * r)
    p = r * t + sum(a[i] * r ** (i + 2) for i in range(8)) + f * sum(b[i] * r ** (2 * i + 3) for i in range(6))
    big_g = [(1 - f) / (2 * g)]
    for i in range(1, 6):
        big_g.append(-(f * r ** (2 * i) - 2 * i * big_g[i - 1]) / (2 * g))
    u = sum(c[i] * r ** (i + 1) / (i + 1) for i in range(8)) + sum(d[i] * big_g[i] for i in range(6))
    return p, u


# --------------------------------------------------------------------- Thol et al. 2016
# alpha^r(tau, delta) = sum_i n_i delta^d_i tau^t_i exp(-delta^l_i)            (l_i = 0: no exponential)
#                     + sum_j n_j delta^d_j tau^t_j exp(-eta_j (delta - eps_j)^2 - beta_j (tau - gam_j)^2)
# tau = 1.32 / T, delta = rho / 0.31; p = rho T (1 + delta d alpha^r/d delta), u_ex = T tau d alpha^r/d tau.
THOL_TC, THOL_RHOC = 1.32, 0.31
THOL_POWER = np.array([  # n, t, d, l
    [0.52080730e-2, 1.000, 4, 0], [0.21862520e+1, 0.320, 1, 0], [-0.21610160e+1, 0.505, 1, 0],
    [0.14527000e+1, 0.672, 2, 0], [-0.20417920e+1, 0.843, 2, 0], [0.18695286e+0, 0.898, 3, 0],
    [-0.62086250e+0, 1.205, 1, 1], [-0.56883900e+0, 1.786, 1, 2], [-0.80055922e+0, 2.770, 3, 2],
    [0.10901431e+0, 1.786, 2, 1], [-0.49745610e+0, 2.590, 2, 2], [-0.90988445e-1, 1.294, 5, 1]])
THOL_GAUSS = np.array([  # n, t, d, eta, beta, gamma, epsilon
    [-0.14667177e+1, 2.830, 1, 2.067, 0.625, 0.71, 0.2053], [0.18914690e+1, 2.548, 1, 1.522, 0.638, 0.86, 0.409],
    [-0.13837010e+0, 4.650, 2, 8.82, 3.91, 1.94, 0.6], [-0.38696450e+0, 1.385, 3, 1.722, 0.156, 1.48, 1.203],
    [0.12657020e+0, 1.460, 3, 0.679, 0.157, 1.49, 1.829], [0.60578100e+0, 1.351, 2, 1.883, 0.153, 1.945, 1.397],
    [0.11791890e+1, 0.660, 1, 3.925, 1.16, 3.02, 1.39], [-0.47732679e+0, 1.496, 2, 2.461, 1.73, 1.11, 0.539],
    [-0.99218575e+1, 1.830, 3, 28.2, 383.0, 1.17, 0.934], [-0.57479320e+0, 1.616, 1, 0.753, 0.112, 1.33, 2.369],
    [0.37729230e-2, 4.970, 1, 0.82, 0.119, 0.24, 2.43]])
# ljfeos.cpp (supplement of Thol et al. 2016) at tau = delta = 1, as quoted in teqp's tests:
# alpha^r, tau d/dtau, delta d/ddelta, tau^2 d2/dtau2, tau delta d2/dtau ddelta, delta^2 d2/ddelta2
THOL_CHECK = (-0.848655028421735, -1.72121486947745, -0.682159784922984, -3.06580477714764,
              -1.43011286241234, 0.364319525724386)


def thol_alphar(tau: float, delta: float, second: bool = False) -> tuple[float, ...]:
    """(alpha^r, tau d alpha^r/d tau, delta d alpha^r/d delta) of Thol et al. (2016); with
    ``second`` also tau^2 d2/dtau2, tau delta d2/dtau ddelta and delta^2 d2/ddelta2 (analytic).
    Each term is n f(tau) g(delta): with a = tau f'/f and b = delta g'/g the reduced derivatives
    are a, b, a^2 - a + tau a', a b and b^2 - b + delta b'."""
    n, t, d, l = THOL_POWER.T  # noqa: E741  (the exponent l of the paper)
    lp = np.where(l > 0, delta**l, 0.0)
    terms = [(n * delta**d * tau**t * np.exp(-lp), t, np.zeros_like(t), d - l * lp, -l * l * lp)]
    n, t, d, eta, beta, gam, eps = THOL_GAUSS.T
    terms.append((n * delta**d * tau**t * np.exp(-eta * (delta - eps) ** 2 - beta * (tau - gam) ** 2),
                  t - 2 * beta * tau * (tau - gam), -2 * beta * tau * (2 * tau - gam),
                  d - 2 * eta * delta * (delta - eps), -2 * eta * delta * (2 * delta - eps)))
    out = np.zeros(6)
    for f, a, ta, b, db in terms:
        out += [f.sum(), (f * a).sum(), (f * b).sum(), (f * (a * a - a + ta)).sum(), (f * a * b).sum(),
                (f * (b * b - b + db)).sum()]
    return tuple(float(v) for v in (out if second else out[:3]))


def thol_eos(temperature: float, density: float) -> tuple[float, float]:
    """(pressure, excess internal energy per atom) of the full LJ fluid, Thol et al. (2016)."""
    _, a_tau, a_delta = thol_alphar(THOL_TC / temperature, density / THOL_RHOC)
    return density * temperature * (1.0 + a_delta), temperature * a_tau


def thol_check() -> np.ndarray:
    """Our reduced derivatives minus the check values of the paper's code at tau = delta = 1."""
    return np.array(thol_alphar(1.0, 1.0, second=True)) - np.array(THOL_CHECK)


def eos_reference(temperature: float, density: float) -> dict[str, float]:
    """Reference p and u_ex (Thol 2016) with the allowance |Thol - JZG| for the reference's own error."""
    p, u = thol_eos(temperature, density)
    p_jzg, u_jzg = jzg_eos(temperature, density)
    return {"p": p, "u": u, "p_allow": abs(p - p_jzg), "u_allow": abs(u - u_jzg), "p_jzg": p_jzg, "u_jzg": u_jzg}


# --------------------------------------------------------------------- lattice sums
def fcc_shells(cutoff_in_a: float) -> list[tuple[float, np.ndarray]]:
    """Neighbour shells of fcc (lattice constant 1) within ``cutoff_in_a``:
    a list of (radius, vectors (m, 3))."""
    m = int(math.ceil(2 * cutoff_in_a)) + 1
    g = np.arange(-m, m + 1)
    n = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    n = n[(n.sum(1) % 2 == 0) & (np.abs(n).sum(1) > 0)]  # fcc: integer (a/2) coords with even sum
    r2 = (n**2).sum(1)  # in units of (a/2)^2
    shells = []
    for k in np.unique(r2[r2 < (2 * cutoff_in_a) ** 2]):
        shells.append((math.sqrt(k) / 2, n[r2 == k] / 2.0))
    return shells


def lj_lattice_sum(a: float, cutoff: float, shift: bool = False) -> dict[str, float]:
    """Energy per atom, pressure and C11, C12, C44 of the static fcc LJ crystal
    (lattice constant ``a``) by direct summation over neighbour shells."""
    phi_c = 4 * (cutoff**-12 - cutoff**-6) if shift else 0.0
    omega = a**3 / 4
    e = p = c11 = c12 = c44 = 0.0
    for radius, vectors in fcc_shells(cutoff / a):
        r = radius * a
        if r >= cutoff:
            continue
        R = vectors * a
        phi = 4 * (r**-12 - r**-6) - phi_c
        d1 = -48 * r**-13 + 24 * r**-7
        d2 = 624 * r**-14 - 168 * r**-8
        e += 0.5 * len(R) * phi
        p -= len(R) * d1 * r / (6 * omega)
        born = (d2 - d1 / r) / r**2 / (2 * omega)
        c11 += born * np.sum(R[:, 0] ** 4)
        c12 += born * np.sum(R[:, 0] ** 2 * R[:, 1] ** 2)
        c44 += born * np.sum(R[:, 0] ** 2 * R[:, 1] ** 2)  # = C12 (Cauchy relation, pair potential)
    return {"energy": e, "pressure": p, "C11": c11, "C12": c12, "C44": c44}


def lattice_sum_constants(cutoff: float = 2.5) -> dict[str, float]:
    """Route (a): zero-pressure a0, cohesive energy, C11, C12, C44 from shell sums."""
    a0 = brentq(lambda a: lj_lattice_sum(a, cutoff)["pressure"], 1.45, 1.65, xtol=1e-15, rtol=1e-15)
    s = lj_lattice_sum(a0, cutoff)
    return {"a0": a0, "cohesive_energy": -s["energy"], "C11": s["C11"], "C12": s["C12"], "C44": s["C44"]}


__all__ = ["jzg_eos", "thol_alphar", "thol_eos", "thol_check", "eos_reference", "fcc_shells", "lj_lattice_sum",
           "lattice_sum_constants", "JZG_X", "JZG_GAMMA", "THOL_TC", "THOL_RHOC", "THOL_POWER", "THOL_GAUSS",
           "THOL_CHECK"]
