"""Old module paths of the oracle families, kept importable.

The flat modules ``oracles.md_thermal``, ``oracles.dpd_channel``, ... became
subpackages (``oracles.md.thermal``, ``oracles.dpd.channel``, ...). A meta
path finder maps each old dotted path to the module that now holds its code,
so ``import oracles.dpd_channel`` and ``from oracles.kmc_meanfield import
bistable_folds`` keep working (with a :class:`DeprecationWarning`) and give
the very same module object as the new path.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED_MODULES: dict[str, str] = {
    "oracles.md_engine": "oracles.md.engine",
    "oracles.md_chain": "oracles.md.chain",
    "oracles.md_thermal": "oracles.md.thermal",
    "oracles.md_common": "oracles.md.common",
    "oracles.kmc_lattice": "oracles.kmc.lattice",
    "oracles.kmc_models": "oracles.kmc.models",
    "oracles.kmc_meanfield": "oracles.kmc.meanfield",
    "oracles.kmc_tooth": "oracles.kmc.tooth",
    "oracles.dpd_channel": "oracles.dpd.channel",
    "oracles.dpd_slip": "oracles.dpd.slip",
    "oracles.cell_problem": "oracles.cell.problem",
    "oracles.noisy_flux": "oracles.cell.noisy",
    "oracles.coefficients": "oracles.cell.coefficients",
    "oracles.fast_slow": "oracles.ef_models.fast_slow",
    "oracles.tooth_diffusion": "oracles.ef_models.tooth_diffusion",
}
"""Old module path -> new module path."""


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:  # the target module is already executed
        pass


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = MOVED_MODULES.get(fullname)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())  # before the editable-install finder


def renamed_fields(**old_to_new: str):
    """Class decorator for a frozen dataclass whose fields were renamed: the old keyword is
    still accepted by the constructor (mapped to the new field) and readable as a property.

    ``dataclasses.replace`` takes the new names only.
    """
    def decorate(cls):
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{cls.__name__}(): give `{new}` or its old name `{old}`, not both")
                    kwargs[new] = kwargs.pop(old)
            init(self, *args, **kwargs)

        cls.__init__ = __init__
        for old, new in old_to_new.items():
            setattr(cls, old, property(lambda self, _new=new: getattr(self, _new),
                                       doc=f"Old name of ``{new}``."))
        return cls
    return decorate
