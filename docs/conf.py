"""Sphinx configuration of the hmm-ef documentation site.

Build: ``pip install -e ".[docs]"`` then ``python -m sphinx -W -b html docs docs/_build/html``.
The API pages (``docs/api/*.rst``) are generated here, at build time, from the
``__all__`` of each package, so every public name is listed and none is
forgotten.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "hmm-ef"
author = "the hmm-ef developers"
copyright = "2026, the hmm-ef developers"  # noqa: A001 (Sphinx's name)

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are executed by nbmake in CI; the site shows their stored outputs
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # the numpydoc sections carry the types
html_theme = "pydata_sphinx_theme"
html_title = "hmm-ef"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
suppress_warnings = ["myst.header"]

PACKAGES = {
    "hmm": "The Coupler, the HMM driver, couplings, the equation-free toolkit, config and results.",
    "hmm.uq": "Uncertainty across scales: linear and ensemble propagation, parameter designs, Sobol' indices.",
    "macro": "Grids, conservation laws, steppers, Newton, closures (no Dask, no oracles).",
    "oracles": "Micro models behind the Oracle protocol, and their registry.",
    "adaptivity": "Error indicators, surrogates and ask/tell learners (they propose, never run).",
    "macro.solids": "Finite-element solid mechanics on scikit-fem meshes (the FE² macro law).",
    "oracles.solids": "Micro models for solids: periodic FE cell problems, Cauchy-Born lattices.",
    "hmm.fe2": "FE²: the solid law with a micro model at every quadrature point, through a Coupler.",
    "hmm.stateful": "Micro states kept on the workers between load steps.",
    "hmm.cluster": "Dask clusters from the `[cluster]` configuration (local, address, SLURM/PBS, TLS).",
    "hmm.checkpoint": "Checkpoints: records, cache and extra arrays with a JSON manifest (never a pickle).",
    "hmm.plotting": "The house style of figures: labelled axes with units, error bars, reference lines.",
}


def public_names(package: str) -> list[tuple[str, str]]:
    """(name, autodoc directive) for every name in ``package.__all__``."""
    module = importlib.import_module(package)
    out = []
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            kind = "autoexception" if issubclass(obj, BaseException) else "autoclass"
        elif callable(obj):
            kind = "autofunction"
        else:
            kind = "autodata"
        out.append((name, kind))
    return out


def write_api_pages(app=None) -> None:
    """One page per package: the package docstring, then every public name."""
    api = Path(__file__).parent / "api"
    api.mkdir(exist_ok=True)
    index = ["API reference", "=============", "", ".. toctree::", "   :maxdepth: 1", ""]
    seen: set[int] = set()  # an object re-exported by a later package is listed there with :no-index:
    for package, blurb in PACKAGES.items():
        index.append(f"   {package}")
        lines = [f"``{package}``", "=" * (len(package) + 4), "", blurb, "",
                 f".. automodule:: {package}", "   :no-members:", "", ".. currentmodule:: " + package, ""]
        module = importlib.import_module(package)
        for name, kind in public_names(package):
            lines += [f".. {kind}:: {name}", ""]
            if kind == "autoclass":
                lines.insert(-1, "   :members:")
            key = id(getattr(module, name))
            if kind != "autodata" and key in seen:
                lines.insert(-1, "   :no-index:")
            seen.add(key)
        text = "\n".join(lines) + "\n"
        page = api / f"{package}.rst"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
    text = "\n".join(index) + "\n"
    page = api / "index.rst"
    if not page.exists() or page.read_text() != text:
        page.write_text(text)


def setup(app):
    app.connect("builder-inited", write_api_pages)
