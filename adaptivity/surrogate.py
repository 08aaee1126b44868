"""Gaussian-process surrogate of a micro closure over macro-state space.

The closure ``q(X, G)`` (flux as a function of position and gradient) is
modelled output by output by a scikit-learn ``GaussianProcessRegressor``
with an anisotropic Matern-5/2 kernel on standardised inputs. Every micro
estimate enters with its own noise variance ``stderr^2`` (``alpha``), so a
noisy run is trusted exactly as much as its error bar says; repeated runs
at one state (``sample_more``) simply add observations there.

The surrogate only *models*: it is told micro results (``tell``) and
predicts means, standard deviations and covariances. It never runs a micro
model (the runner in :mod:`hmm.adaptive` does; :class:`adaptivity.GoalLearner`
owns the surrogate).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.linalg import cho_solve

__all__ = ["GPClosureSurrogate"]


class GPClosureSurrogate:
    """GP model of a closure with ``n_in`` input and ``n_out`` output columns.

    Parameters
    ----------
    n_in, n_out : int
        Numbers of closure input and output columns.
    grad_columns : int
        How many trailing input columns are gradient components (used by
        :meth:`tangent`).
    nu : float
        Smoothness of the Matern kernel.
    n_restarts : int
        Extra optimiser restarts of the kernel hyperparameters.
    jitter : float
        Relative nugget added to every observation's variance.
    linear_in_gradient : bool
        Closure known to be linear in the gradient, ``q = k(X) G`` (the
        cell problem of homogenisation; one gradient column and one output):
        the GP then models ``k(X)`` from ``q / G`` (noise ``stderr / |G|``)
        over positions only, and predicts ``q = k G`` with std ``|G| std_k``.
        A stationary kernel cannot learn the product structure from the
        few gradient values a Newton path visits.
    warp : bool
        Arc-length input warping (linear mode with one position column): the
        GP is fitted in the coordinate ``z(x) = int sqrt(1 + m'(x)^2) dx``
        (standardised units), where ``m`` is the posterior mean of a
        stationary fit of the same data. Steep parts of the
        closure are stretched and flat parts keep their length, so one
        stationary kernel in ``z`` needs few observations where the closure
        is flat and many where it is steep -- the non-stationarity of a
        localised feature (an inclusion, a front), in the spirit of input
        warping (Sampson & Guttorp 1992; Snoek et al. 2014). Limitation:
        a stationary fit of nearly noise-free data may ring between the
        observations; the stretch is then spread over the whole range (a
        shorter length scale, no harm, no gain). Meant for deterministic or
        nearly noise-free closures: with a few noisy observations a warp
        built on a feature the data barely resolve can make the GP
        overconfident (measured on the noisy inclusion benchmark). The arc length of the
        polyline through the data instead localises the stretch but was
        measured overconfident on the inclusion benchmark, so it is not used.
    refit_every : int
        Re-optimise the kernel hyperparameters (maximum likelihood) only
        once this many observations have arrived since the last
        optimisation; in between, new data are conditioned on with the last
        hyperparameters (a Cholesky factorisation instead of an optimiser
        run). 1: every fit optimises.
    trend : bool
        Add a linear trend to the kernel (a Bayesian linear regression on the
        standardised inputs, ``c (x . x' + 1)``): closures with a macro-scale
        slope (e.g. a coefficient growing across the domain) are then not
        pulled back to a constant away from the data, near the domain ends
        in particular.
    calibrate : bool
        Rescale the posterior variance by the mean squared leave-one-out
        z-score of the observations (closed form, Rasmussen & Williams 2006,
        sec. 5.4.2; observations whose position is repeated are not used, as
        a duplicate makes their left-out residual trivially small). A
        maximum-likelihood GP of a deterministic closure is often
        conservative by a factor of a few, which makes the modelling
        indicator ask for micro runs that do not change the answer;
        the factor is kept within [1/25, 25] (variance) and is 1 with fewer
        than 8 usable observations, or when any observation reports a
        stderr > 0 (with a known noise level the maximum-likelihood amplitude
        already fits it, and the leave-one-out scores of a few noisy points
        fitted by the same likelihood shrink the variance too far).
    """

    def __init__(self, n_in: int, n_out: int, *, grad_columns: int | None = None, nu: float = 2.5,
                 n_restarts: int = 0, jitter: float = 1e-8, linear_in_gradient: bool = False,
                 warp: bool = False, calibrate: bool = False, trend: bool = False,
                 refit_every: int = 1) -> None:
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.grad_columns = self.n_in // 2 if grad_columns is None else int(grad_columns)
        self.linear = bool(linear_in_gradient)
        if self.linear and (self.grad_columns != 1 or self.n_out != 1):
            raise ValueError("GPClosureSurrogate: `linear_in_gradient` needs one gradient column and one output")
        self.warp, self.calibrate, self.trend = bool(warp), bool(calibrate), bool(trend)
        if isinstance(refit_every, bool) or not isinstance(refit_every, (int, np.integer)) or refit_every < 1:
            raise ValueError(f"GPClosureSurrogate: `refit_every` must be an integer >= 1, got {refit_every!r}")
        self.refit_every = int(refit_every)
        self._kernels: dict = {}
        self._ml_size: int | None = None
        if self.warp and not (self.linear and self.n_in == 2):
            raise ValueError("GPClosureSurrogate: `warp` needs `linear_in_gradient` and one position column")
        self._warp_table: tuple[np.ndarray, np.ndarray] | None = None
        self.nu, self.n_restarts, self.jitter = nu, int(n_restarts), float(jitter)
        self.X = np.empty((0, self.n_in))
        self.Y = np.empty((0, self.n_out))
        self.S = np.empty((0, self.n_out))
        self._models: list[Any] = []
        self._dirty = True

    def __len__(self) -> int:
        return self.X.shape[0]

    def tell(self, states: np.ndarray, mean: np.ndarray, stderr: np.ndarray) -> None:
        """Add micro estimates (states (k, n_in), mean/stderr (k, n_out))."""
        states = np.asarray(states, dtype=float).reshape(-1, self.n_in)
        self.X = np.vstack([self.X, states])
        self.Y = np.vstack([self.Y, np.asarray(mean, dtype=float).reshape(-1, self.n_out)])
        self.S = np.vstack([self.S, np.asarray(stderr, dtype=float).reshape(-1, self.n_out)])
        self._dirty = True

    # -- fitting --------------------------------------------------------------------
    def _scale(self, X: np.ndarray) -> np.ndarray:
        Xs = (X - self._x_mean) / self._x_std
        if self._warp_table is None:
            return Xs
        xs, zs = self._warp_table  # linear extrapolation with unit slope outside the table
        x = Xs[:, 0]
        z = np.interp(x, xs, zs) + np.minimum(x - xs[0], 0.0) + np.maximum(x - xs[-1], 0.0)
        return z[:, None]

    def coordinate(self, positions: np.ndarray) -> np.ndarray:
        """GP input coordinate (standardised; warped with ``warp``) of position
        rows ``(n, n_in - 1)`` in linear mode or input rows ``(n, n_in)``."""
        self._ready()
        return self._scale(np.asarray(positions, dtype=float).reshape(len(positions), -1))

    def _warp(self, Xs_unwarped: np.ndarray, n: int = 4097) -> None:
        """Arc-length table of the current posterior mean over the data's range
        (standardised units, 4097 points; unit slope where the mean is flat)."""
        lo, hi = float(Xs_unwarped.min()), float(Xs_unwarped.max())
        pad = 0.05 * (hi - lo)
        xs = np.linspace(lo - pad, hi + pad, n)
        m = self._models[0].predict(xs[:, None])
        dz = np.sqrt(1.0 + np.gradient(m, xs) ** 2)
        zs = np.concatenate([[0.0], np.cumsum(0.5 * (dz[1:] + dz[:-1]) * np.diff(xs))]) + xs[0]
        self._warp_table = (xs, zs)

    def fit(self) -> "GPClosureSurrogate":
        """(Re)fit one GP per output, hyperparameters by maximum likelihood.

        BLAS runs single-threaded here: the matrices are small (a few hundred
        observations) and a threaded BLAS on a shared machine was measured 30x
        slower (threads oversubscribing the cores)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit()

    def _fit(self) -> "GPClosureSurrogate":
        if len(self) < 2:
            raise ValueError("GPClosureSurrogate.fit(): needs at least 2 observations")
        X, Y, S = self.X, self.Y, self.S
        if self.linear:
            g = X[:, -1]
            keep = np.abs(g) > 1e-6 * max(float(np.abs(g).max()), 1e-300)
            X, Y, S = X[keep, :-1], (Y[keep, 0] / g[keep])[:, None], (S[keep, 0] / np.abs(g[keep]))[:, None]
            self._keep = keep
        self._x_mean = X.mean(axis=0)
        self._x_std = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        self._warp_table = None
        optimise = self._ml_size is None or len(self) - self._ml_size >= self.refit_every
        if optimise:
            self._ml_size = len(self)
        self._fit_models(X, Y, S, "plain", optimise)
        if self.warp:  # warp from the stationary fit of the same data (no dependence on history)
            self._warp((X - self._x_mean) / self._x_std)
            self._fit_models(X, Y, S, "warped", optimise)
        self._dirty = False
        return self

    def _fit_models(self, X: np.ndarray, Y: np.ndarray, S: np.ndarray, stage: str, optimise: bool) -> None:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, DotProduct, Matern

        Xs = self._scale(X)
        self._models, self._y_mean, self._y_std, self._post_scale = [], [], [], []
        for k in range(self.n_out):
            y = Y[:, k]
            mu, sd = float(y.mean()), float(y.std()) or 1.0
            kernel = ConstantKernel(1.0, (1e-4, 1e4)) * Matern(
                length_scale=np.ones(X.shape[1]), length_scale_bounds=(1e-3, 1e3), nu=self.nu)
            if self.trend:  # Bayesian linear trend: k += c (x . x'), c by maximum likelihood
                kernel = kernel + ConstantKernel(1.0, (1e-6, 1e4)) * DotProduct(1.0, sigma_0_bounds="fixed")
            alpha = (S[:, k] / sd) ** 2 + self.jitter
            previous = self._kernels.get((stage, k))
            if optimise or previous is None:
                gp = GaussianProcessRegressor(kernel, alpha=alpha, normalize_y=False,
                                              n_restarts_optimizer=self.n_restarts, random_state=0)
            else:  # condition on the new data with the last maximum-likelihood hyperparameters
                gp = GaussianProcessRegressor(previous, alpha=alpha, normalize_y=False, optimizer=None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # bound warnings of the optimiser
                gp.fit(Xs, (y - mu) / sd)
            if self.calibrate and not np.any(S[:, k] > 0):
                sd_post = sd * np.sqrt(_loo_variance_factor(gp, Xs))
            else:
                sd_post = sd
            self._kernels[(stage, k)] = gp.kernel_
            self._models.append(gp)
            self._y_mean.append(mu)
            self._y_std.append(sd)
            self._post_scale.append(sd_post / sd)

    def _ready(self) -> None:
        if self._dirty:
            self.fit()

    # -- prediction -----------------------------------------------------------------
    def predict(self, points: np.ndarray, *, output: int | None = None, return_cov: bool = False):
        """Posterior mean and std (n, n_out) at ``points``; with ``output=k`` and
        ``return_cov`` the mean (n,) and covariance (n, n) of output ``k``."""
        self._ready()
        points = np.asarray(points, dtype=float).reshape(-1, self.n_in)
        if self.linear:
            g = points[:, -1]
            gp, mu, sd, ps = self._models[0], self._y_mean[0], self._y_std[0], self._post_scale[0]
            Xs = self._scale(points[:, :-1])
            if return_cov:
                m, c = gp.predict(Xs, return_cov=True)
                mean = (mu + sd * m) * g
                cov = (sd * ps) ** 2 * c * np.outer(g, g)
                return (mean, cov) if output is not None else (mean[:, None], cov)
            m, st = gp.predict(Xs, return_std=True)
            mean, std = (mu + sd * m) * g, sd * ps * st * np.abs(g)
            return (mean, std) if output is not None else (mean[:, None], std[:, None])
        Xs = self._scale(points)
        if output is not None:
            gp, mu, sd, ps = self._models[output], self._y_mean[output], self._y_std[output], self._post_scale[output]
            if return_cov:
                m, c = gp.predict(Xs, return_cov=True)
                return mu + sd * m, (sd * ps) ** 2 * c
            m, s = gp.predict(Xs, return_std=True)
            return mu + sd * m, sd * ps * s
        means, stds = [], []
        for gp, mu, sd, ps in zip(self._models, self._y_mean, self._y_std, self._post_scale):
            m, s = gp.predict(Xs, return_std=True)
            means.append(mu + sd * m)
            stds.append(sd * ps * s)
        return np.column_stack(means), np.column_stack(stds)

    def data_weights(self, points: np.ndarray, output: int, weights: np.ndarray) -> np.ndarray:
        """``d(weights . mean(points)) / d y_j`` for every observation ``j``: the
        linear map from micro estimates to a weighted sum of predictions."""
        self._ready()
        gp = self._models[output]
        points = np.asarray(points, dtype=float).reshape(-1, self.n_in)
        weights = np.asarray(weights, dtype=float)
        if self.linear:  # mean_f = G_f k(x_f), k fitted to y_j / G_j
            k_tp = gp.kernel_(gp.X_train_, self._scale(points[:, :-1]))
            out = np.zeros(len(self))
            out[self._keep] = cho_solve((gp.L_, True), k_tp @ (weights * points[:, -1])) / self.X[self._keep, -1]
            return out
        k_train_points = gp.kernel_(gp.X_train_, self._scale(points))  # (m, n)
        return cho_solve((gp.L_, True), k_train_points @ weights)

    def data_map(self, points: np.ndarray, output: int, values: np.ndarray) -> np.ndarray:
        """``sum_j (d mean(points) / d y_j) values_j`` (n,): the linear map from the
        observations of ``output`` to the posterior mean at ``points``, applied
        to one value per observation (the transpose of :meth:`data_weights`)."""
        self._ready()
        gp = self._models[output]
        points = np.asarray(points, dtype=float).reshape(-1, self.n_in)
        values = np.asarray(values, dtype=float)
        if self.linear:  # mean_f = G_f k(x_f), k fitted to y_j / G_j
            k_pt = gp.kernel_(self._scale(points[:, :-1]), gp.X_train_)
            return points[:, -1] * (k_pt @ cho_solve((gp.L_, True), values[self._keep] / self.X[self._keep, -1]))
        return gp.kernel_(self._scale(points), gp.X_train_) @ cho_solve((gp.L_, True), values)

    def tangent(self, points: np.ndarray, rel_step: float = 1e-3) -> np.ndarray:
        """``d mean / d G`` (n, n_out, n_grad) by central differences of the posterior mean."""
        points = np.asarray(points, dtype=float)
        n, g = points.shape[0], self.grad_columns
        out = np.empty((n, self.n_out, g))
        self._ready()
        if self.linear:
            gp, mu, sd = self._models[0], self._y_mean[0], self._y_std[0]
            out[:, 0, 0] = mu + sd * gp.predict(self._scale(points[:, :-1]))
            return out
        for k in range(g):
            col = self.n_in - g + k
            step = rel_step * float(self._x_std[col])
            up, down = points.copy(), points.copy()
            up[:, col] += step
            down[:, col] -= step
            out[:, :, k] = (self.predict(up)[0] - self.predict(down)[0]) / (2 * step)
        return out

    def length_scales(self) -> list[np.ndarray]:
        """Fitted length scales per output (in standardised input units)."""
        self._ready()
        return [np.atleast_1d((gp.kernel_.k1 if self.trend else gp.kernel_).k2.length_scale)
                for gp in self._models]


def _loo_variance_factor(gp: Any, Xs: np.ndarray, *, minimum: int = 8, bounds=(1 / 25, 25.0)) -> float:
    """Mean squared leave-one-out z-score of a fitted GP's observations
    (``r_i = [K^-1 y]_i / [K^-1]_ii``, ``v_i = 1 / [K^-1]_ii``), over the
    observations whose input row is not repeated; clipped to ``bounds``."""
    _, inverse, counts = np.unique(Xs, axis=0, return_inverse=True, return_counts=True)
    usable = counts[np.ravel(inverse)] == 1
    if usable.sum() < minimum:
        return 1.0
    k_inv = cho_solve((gp.L_, True), np.eye(len(Xs)))
    diag = np.diag(k_inv)
    z2 = gp.alpha_.ravel() ** 2 / diag  # (r_i / sqrt(v_i))^2 = alpha_i^2 / [K^-1]_ii
    return float(np.clip(np.mean(z2[usable]), *bounds))
