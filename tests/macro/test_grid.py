"""Grids and profiles: properties, orderings and validation messages."""

import numpy as np
import pytest

from macro import PROFILES, Grid1D, Grid2D, make_profile
from macro.profiles import Constant, Gaussian, SineProduct


def test_grid1d_properties():
    g = Grid1D(4, (1.0, 3.0))
    assert g.dim == 1 and g.dims == ("x",) and g.shape == (4,)
    assert g.n_cells == 4 and g.n_faces == 5
    assert g.spacing == (0.5,) and g.cell_volume == 0.5
    np.testing.assert_allclose(g.centres[0], [1.25, 1.75, 2.25, 2.75])
    np.testing.assert_allclose(g.face_coords[0], [1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_allclose(g.coords()[0], g.centres[0])
    assert hash(g) == hash(Grid1D(4, (1, 3)))  # usable as a cache key


def test_grid2d_properties_and_face_order():
    g = Grid2D((3, 2), ((0.0, 3.0), (0.0, 1.0)))
    assert g.dim == 2 and g.dims == ("x", "y") and g.shape == (3, 2)
    assert g.n_cells == 6 and g.n_faces == 4 * 2 + 3 * 3
    assert g.spacing == (1.0, 0.5) and g.cell_volume == 0.5
    X, Y = g.coords()
    assert X.shape == (3, 2) and X[1, 0] == 1.5 and Y[0, 1] == 0.75  # 'ij' indexing
    fc = g.face_centres()
    # x-faces first, shape (nx+1, ny) in C order: face (i=1, j=1) is flat index 1*2+1
    np.testing.assert_allclose(fc[3], [1.0, 0.75])
    # then y-faces, shape (nx, ny+1): face (i=2, j=0) is flat 8 + 2*3 + 0
    np.testing.assert_allclose(fc[8 + 6], [2.5, 0.0])
    assert list(g.face_axes()) == [0] * 8 + [1] * 9
    # face families split back to their arrays, with the dims results label them by
    xs, ys = g.split_faces(fc[:, 0])
    assert xs.shape == (4, 2) and ys.shape == (3, 3) and xs[1, 1] == 1.0 and ys[2, 0] == 2.5
    assert g.face_dims == (("x_face", "y"), ("x", "y_face"))
    assert Grid1D(3).face_dims == (("x_face",),) and Grid1D(3).split_faces(np.arange(4))[0].shape == (4,)


@pytest.mark.parametrize(
    "make, match, exc",
    [
        (lambda: Grid1D(0), "`cells` must be >= 1", ValueError),
        (lambda: Grid1D(2.5), "`cells` must be an int", TypeError),
        (lambda: Grid1D(4, (1.0, 0.0)), "`extent` must be increasing", ValueError),
        (lambda: Grid1D(4, (0.0, np.inf)), "`extent` must be finite", ValueError),
        (lambda: Grid2D((4, 0)), "`cells` must be >= 1", ValueError),
        (lambda: Grid2D(4), "`cells` must be a pair", TypeError),
        (lambda: Grid2D((4, 4), ((0, 1), (2, 2))), "`extent` must be increasing", ValueError),
    ],
)
def test_grid_validation_names_argument(make, match, exc):
    with pytest.raises(exc, match=match):
        make()


def test_profiles_vectorised_and_registry():
    x, y = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 4), indexing="ij")
    assert Constant(2.0)(x, y).shape == (5, 4)
    s = SineProduct(2.0, (1, 2))(x, y, t=1.0)
    np.testing.assert_allclose(s, 2 * np.sin(np.pi * x) * np.sin(2 * np.pi * y))
    gauss = Gaussian(1.0, (0.5, 0.5), 0.1)
    assert gauss(0.5, 0.5) == pytest.approx(1.0)
    assert set(PROFILES) == {"constant", "gaussian", "sine"}
    # TOML gives lists; they become tuples so the profile stays hashable
    p = make_profile({"kind": "gaussian", "amplitude": 1.0, "center": [0.5], "width": 0.1})
    assert p == Gaussian(1.0, (0.5,), 0.1) and hash(p)
    assert make_profile(3) == Constant(3.0)
    f = lambda x, t=0.0: x  # noqa: E731
    assert make_profile(f) is f


def test_make_profile_errors():
    with pytest.raises(ValueError, match=r"unknown source kind 'nope'.*\['constant', 'gaussian', 'sine'\]"):
        make_profile({"kind": "nope"}, name="source")
    with pytest.raises(ValueError, match="'kind'"):
        make_profile({"value": 1.0})
    with pytest.raises(TypeError, match="`boundary` must be a real number"):
        make_profile("1.0", name="boundary")
    with pytest.raises(ValueError, match="`width` must be positive"):
        Gaussian(1.0, (0.0,), 0.0)
    with pytest.raises(ValueError, match="`modes` has 1 entries"):
        SineProduct(1.0, (1,))(np.zeros(3), np.zeros(3))
