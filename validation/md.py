"""Lennard-Jones MD oracle against lattice sums, an equation of state and published transport data.

Cases (reduced LJ units):

* harmonic chain at T = 0: modulus a0 k and wave speed a0 sqrt(k / m) exactly;
* fcc crystal at T = 0, truncated LJ (r_c = 2.5, not shifted): zero-pressure
  lattice constant, cohesive energy and C11, C12, C44 from two independent
  routes, (a) a NumPy sum over neighbour shells with the Born formula
  C_ijkl = (1 / 2 Omega) sum_R (phi'' - phi'/r) R_i R_j R_k R_l / r^2
  (Born & Huang, *Dynamical Theory of Crystal Lattices*, 1954; no internal
  relaxation in a Bravais lattice) and (b) the MD engine's virial stress
  under finite uniaxial strains of a [100] and a [110]-oriented box
  (C'11 = (C11 + C12)/2 + C44);
* LJ fluid pressure and excess energy with r_c = 2.5 (truncated, not
  shifted) plus standard tail corrections against the Helmholtz-energy
  equation of state of Thol, Rutkai, Koester, Lustig, Span & Vrabec,
  J. Phys. Chem. Ref. Data 45, 023101 (2016). Its coefficients (as encoded
  in NIST's teqp, usnistgov/teqp) are verified here against the check values
  that the paper's own code (ljfeos.cpp) gives at (T, rho) = (1.32, 0.31):
  alpha^r and its five reduced first and second derivatives agree to 3e-15
  (:func:`thol_check`). The allowance for the reference's own error is the
  difference between two independent correlations of simulation data, Thol
  2016 and the MBWR equation of Johnson, Zollweg & Gubbins, Mol. Phys. 78,
  591 (1993) (Table 10 coefficients), at the same state point. JZG 1993 state
  no single accuracy figure for p and u that we could verify (unknown here),
  so no self-chosen percentage is used any more;
* C44 again from the shear stress of a triclinic (simple-shear) cell;
* the microcanonical harmonic chain (oracles.NVEChain): tension and
  temperature exact by the virial theorem per normal mode;
* NVE energy drift at dt = 0.005 (truncated-shifted potential);
* self-diffusion at T* = 0.722, rho* = 0.8442 against Meier, Laesecke &
  Kabelac, J. Chem. Phys. 121, 9526 (2004) (D* = 0.0325 for N = 1372,
  r_c = 5.5), our N brought to N = 1372 by the Yeh-Hummer correction
  (J. Phys. Chem. B 108, 15873, 2004) with eta* = 3.258 (Meier et al.,
  J. Chem. Phys. 121, 3671, 2004).
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
    n, t, d, l = THOL_POWER.T
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


def _md_static_stress(a: float, cutoff: float, strain: float, orientation: str) -> tuple[np.ndarray, float]:
    """Route (b) helper: Cauchy stress (6,) and U/N of the strained crystal from the MD engine."""
    from oracles.md import LJSystem, fcc_lattice

    cells = (4, 4, 4) if orientation == "100" else (6, 6, 4)
    pos, box = fcc_lattice(cells, a, orientation)
    stretch = np.array([1.0 + strain, 1.0, 1.0])
    system = LJSystem(pos * stretch, np.zeros_like(pos), box * stretch, cutoff=cutoff, skin=0.0, shift=False)
    row = system.static()
    return -(row[1:7] + row[7:13]) / system.volume, row[0] / system.n_atoms


def md_elastic_constants(cutoff: float = 2.5, h: float = 1e-5) -> dict[str, float]:
    """Route (b): a0 where the MD pressure vanishes, cohesive energy, and C11,
    C12, C44 from central differences of the MD stress under uniaxial strain."""
    a0 = brentq(lambda a: -_md_static_stress(a, cutoff, 0.0, "100")[0][:3].mean(), 1.45, 1.65,
                xtol=1e-15, rtol=1e-15)
    plus, minus = _md_static_stress(a0, cutoff, h, "100")[0], _md_static_stress(a0, cutoff, -h, "100")[0]
    c11, c12 = (plus[0] - minus[0]) / (2 * h), (plus[1] - minus[1]) / (2 * h)
    c11_110 = (_md_static_stress(a0, cutoff, h, "110")[0][0] - _md_static_stress(a0, cutoff, -h, "110")[0][0]) / (2 * h)
    return {"a0": a0, "cohesive_energy": -_md_static_stress(a0, cutoff, 0.0, "100")[1], "C11": c11, "C12": c12,
            "C44": c11_110 - 0.5 * (c11 + c12)}


def shear_c44(a0: float, cutoff: float = 2.5, h: float = 1e-5) -> float:
    """C44 = d sigma_xy / d gamma at gamma = 0 from the MD engine's simple shear (triclinic cell)."""
    from hmm import Budget
    from oracles.md import LennardJonesMD

    oracle = LennardJonesMD(cells=4, density=4 / a0**3, cutoff=cutoff, shift=False, deformation="shear",
                            observables=("stress_xy",))
    s = [oracle.run(np.array([g, 0.0]), seed=0, budget=Budget()).mean[0] for g in (h, -h)]
    return (s[0] - s[1]) / (2 * h)


def nve_harmonic_chain() -> dict[str, float]:
    """Microcanonical harmonic chain: tension k a0 e and T = m (u - u_0) exactly (virial theorem per mode)."""
    from hmm import Budget
    from oracles.md_thermal import NVEChain

    chain = NVEChain(bond="harmonic", n_atoms=16, dt=0.01)
    est = chain.run(np.array([0.05, float(chain.ground_state_energy(0.05)) + 0.25]), seed=1,
                    budget=Budget(2000, 100000))
    ok = abs(est.mean[0] - 0.05) < 4 * est.stderr[0] and abs(est.mean[1] - 0.25) < 4 * est.stderr[1]
    return {"stress": est.mean[0], "stress_se": est.stderr[0], "T": est.mean[1], "T_se": est.stderr[1], "ok": ok}


# --------------------------------------------------------------------- fluid, drift, diffusion
def fluid_state_point(temperature: float, density: float, *, cells: int = 4, cutoff: float = 2.5,
                      equilibration: int = 4000, sampling: int = 40000, replicas: int = 1, seed: int = 0):
    """MD pressure and excess energy per atom (tail-corrected) with their stderr,
    next to the reference (:func:`eos_reference`): returns dict(p, p_se, u, u_se, p_ref, u_ref,
    p_allow, u_allow, p_jzg, u_jzg, n_atoms)."""
    from hmm import Budget
    from oracles.md import LennardJonesMD

    oracle = LennardJonesMD(cells=cells, density=density, cutoff=cutoff, shift=False, tail_correction=True,
                            observables=("pressure", "energy"))
    est = oracle.run(np.array([0.0, temperature]), seed=seed,
                     budget=Budget(equilibration_steps=equilibration, sampling_steps=sampling, replicas=replicas))
    ref = eos_reference(temperature, density)
    return {"p": est.mean[0], "p_se": est.stderr[0], "u": est.mean[1], "u_se": est.stderr[1],
            "p_ref": ref["p"], "u_ref": ref["u"], "p_allow": ref["p_allow"], "u_allow": ref["u_allow"],
            "p_jzg": ref["p_jzg"], "u_jzg": ref["u_jzg"], "n_atoms": oracle.n_atoms}


def nve_drift(*, cells: int = 4, temperature: float = 1.0, density: float = 0.8442, dt: float = 0.005,
              steps: int = 20000, seed: int = 1) -> dict[str, float]:
    """Total energy per atom along an NVE run (truncated-shifted LJ, r_c = 2.5,
    after a short Langevin equilibration): linear drift per atom per unit time
    and the rms fluctuation about the fit."""
    from oracles.md import LennardJonesMD

    system = LennardJonesMD(cells=cells, density=density, dt=dt).system(0.0, temperature, seed)
    system.run(2000, friction=1.0, temperature=temperature, sample_every=0)
    rows = system.run(steps, sample_every=10)
    e = (rows[:, 0] + 0.5 * rows[:, 1:4].sum(1)) / system.n_atoms
    t = np.arange(1, len(e) + 1) * 10 * dt
    slope, intercept = np.polyfit(t, e, 1)
    return {"drift_per_atom_per_time": float(slope), "rms": float(np.std(e - (slope * t + intercept))),
            "duration": float(t[-1]), "mean_energy": float(e.mean())}


D_MEIER_1372 = 0.0325  # Meier, Laesecke & Kabelac, JCP 121, 9526 (2004), N = 1372
ETA_MEIER = 3.258  # Meier, Laesecke & Kabelac, JCP 121, 3671 (2004), T* = 0.722, rho* = 0.8442
XI_YEH_HUMMER = 2.837297


def self_diffusion(*, cells: int = 6, temperature: float = 0.722, density: float = 0.8442, cutoff: float = 2.5,
                   frames: int = 4000, frame_every: int = 10, seed: int = 3) -> dict[str, float]:
    """D* from the Einstein relation (NVE after Langevin equilibration at T*),
    and its value brought to N = 1372 by the Yeh-Hummer correction
    D(L2) = D(L1) + xi kT / (6 pi eta) (1/L1 - 1/L2)."""
    from oracles.md import LennardJonesMD, diffusion_coefficient, trajectory

    oracle = LennardJonesMD(cells=cells, density=density, cutoff=cutoff)
    system = oracle.system(0.0, 1.5, seed)
    system.run(4000, friction=1.0, temperature=1.5, sample_every=0)  # melt the lattice
    system.run(6000, friction=1.0, temperature=temperature, sample_every=0)
    rows = system.run(20 * frame_every, sample_every=frame_every)
    frames_ = trajectory(system, frames, frame_every)
    rows = np.vstack([rows, system.run(20 * frame_every, sample_every=frame_every)])
    d, d_se = diffusion_coefficient(frames_, frame_every * oracle.dt)
    l_ours, l_ref = (oracle.n_atoms / density) ** (1 / 3), (1372 / density) ** (1 / 3)
    t_kin = rows[:, 1:4].sum(1).mean() / (3 * oracle.n_atoms - 3)
    correction = XI_YEH_HUMMER * t_kin / (6 * math.pi * ETA_MEIER) * (1 / l_ours - 1 / l_ref)
    return {"D": d, "D_se": d_se, "D_1372": d + correction, "T_kin": t_kin, "n_atoms": oracle.n_atoms}


# --------------------------------------------------------------------- report
def report() -> list[str]:
    """Markdown section with every case measured (several minutes on one core)."""
    from hmm import Budget
    from oracles.md import LJChain

    lines = ["## Lennard-Jones molecular dynamics (`oracles.md`)", "",
             "| quantity | reference (source) | measured (stderr) | agreement |", "|---|---|---|---|"]
    chain = LJChain(bond="harmonic", spring=2.0, a0=1.1)
    h = 1e-3
    s = [chain.run(np.array([e, 0.0]), seed=0, budget=Budget()).mean[0] for e in (h, -h)]
    modulus = (s[0] - s[1]) / (2 * h)
    lines.append(f"| harmonic chain modulus, k=2, a0=1.1 | k a0 = 2.2 (closed form) | {modulus:.15g} | "
                 f"rel. err {abs(modulus / 2.2 - 1):.1e} |")
    c = math.sqrt(modulus / chain.density)
    lines.append(f"| harmonic chain wave speed | a0 sqrt(k/m) = {1.1 * math.sqrt(2):.12f} | {c:.12f} | "
                 f"rel. err {abs(c / (1.1 * math.sqrt(2)) - 1):.1e} |")
    lat, md = lattice_sum_constants(), md_elastic_constants()
    for key, label in (("a0", "fcc zero-pressure lattice constant"), ("cohesive_energy", "fcc cohesive energy"),
                       ("C11", "C11"), ("C12", "C12"), ("C44", "C44")):
        rel = abs(md[key] / lat[key] - 1)
        lines.append(f"| {label} (T=0, r_c=2.5 truncated) | {lat[key]:.10f} (shell lattice sum) | "
                     f"{md[key]:.10f} (MD engine) | rel. {rel:.1e} {'ok' if rel < 1e-6 else 'FAIL'} (< 1e-6) |")
    c44 = shear_c44(lat["a0"])
    rel = abs(c44 / lat["C44"] - 1)
    lines.append(f"| C44 from the shear stress of a triclinic cell, d sigma_xy / d gamma (T=0) | {lat['C44']:.10f} "
                 f"(shell lattice sum) | {c44:.10f} (MD engine, simple shear) | rel. {rel:.1e} "
                 f"{'ok' if rel < 1e-6 else 'FAIL'} (< 1e-6) |")
    nve = nve_harmonic_chain()
    lines.append(f"| NVE harmonic chain (N=16, e=0.05, u-u_0=0.25): tension, T | k a0 e = 0.05, m (u - u_0) = 0.25 "
                 f"(virial theorem per mode) | {nve['stress']:.5f} ({nve['stress_se']:.5f}), {nve['T']:.5f} "
                 f"({nve['T_se']:.5f}) | {'ok' if nve['ok'] else 'FAIL'} (4 se) |")
    for t, rho in ((2.0, 0.5), (1.5, 0.8)):
        r = fluid_state_point(t, rho, cells=5, sampling=100000, replicas=2)
        for q in ("p", "u"):
            ref, val, se, allow = r[f"{q}_ref"], r[q], r[f"{q}_se"], r[f"{q}_allow"]
            tol = 3 * se + allow
            lines.append(f"| {'pressure' if q == 'p' else 'excess energy/atom'} T*={t}, rho*={rho} "
                         f"(N={r['n_atoms']}, r_c=2.5 + tail) | {ref:.4f} (Thol 2016; JZG 1993: "
                         f"{r[f'{q}_jzg']:.4f}) | {val:.4f} ({se:.4f}) | |diff| {abs(val - ref):.4f} "
                         f"{'<=' if abs(val - ref) <= tol else '>'} 3 se + |Thol - JZG| {tol:.4f} |")
    dr = nve_drift()
    lines.append(f"| NVE drift, dt=0.005, T*~1, rho*=0.8442, 256 atoms, {dr['duration']:.0f} tau | "
                 f"bound 1e-5 per atom per tau | {dr['drift_per_atom_per_time']:.2e} (rms fluct. {dr['rms']:.1e}) | "
                 f"{'ok' if abs(dr['drift_per_atom_per_time']) < 1e-5 else 'FAIL'} |")
    d = self_diffusion()
    rel = abs(d["D_1372"] / D_MEIER_1372 - 1)
    lines.append(f"| self-diffusion D*, T*=0.722, rho*=0.8442 (N={d['n_atoms']} -> 1372 by Yeh-Hummer, "
                 f"r_c=2.5 shifted) | {D_MEIER_1372} (Meier et al. 2004, N=1372) | {d['D_1372']:.4f} ({d['D_se']:.4f}); "
                 f"raw {d['D']:.4f}, T_kin {d['T_kin']:.3f} | rel. {rel:.1%} {'ok' if rel < 0.1 else 'FAIL'} (< 10%) |")
    lines += ["", "Cutoff treatment: fluid state points use LJ truncated (not shifted) at r_c = 2.5 with the "
              "standard tail corrections for energy and pressure; the drift and diffusion runs use the "
              "truncated-shifted potential (forces identical). Reference: Thol et al. (2016), coefficients "
              f"verified against the paper's check values (max deviation of the six check values {np.abs(thol_check()).max():.1e}); "
              "allowance for the reference's own error: |Thol - JZG| at the state point (JZG 1993 quote no "
              "accuracy figure we could verify).", ""]
    return lines
