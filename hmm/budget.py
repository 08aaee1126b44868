"""How much micro computation one oracle call may spend."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import BudgetError


@dataclass(frozen=True)
class Budget:
    """Budget of one micro run.

    Parameters
    ----------
    equilibration_steps : int
        Micro steps (MD/DPD time steps, KMC events, ...) discarded before
        sampling. Ignored by deterministic oracles.
    sampling_steps : int
        Micro steps over which the estimate is averaged.
    target_stderr : float or None
        Stop sampling once the standard error of every output is below this
        value (output units). ``None``: run ``sampling_steps``.
    max_wall_s : float or None
        Wall-time cap in seconds for one micro run; an oracle that reaches it
        returns what it has with an honest ``stderr``/``n_eff``.
    replicas : int
        Independent replicas an oracle may average (stderr from their spread).

    Raises
    ------
    BudgetError
        If a count is negative or not an integer, or a target/cap is not a
        positive finite number. The message names the field.
    """

    equilibration_steps: int = 0
    sampling_steps: int = 0
    target_stderr: float | None = None
    max_wall_s: float | None = None
    replicas: int = 1

    def __post_init__(self) -> None:
        for name in ("equilibration_steps", "sampling_steps", "replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BudgetError(f"Budget.{name} must be an int, got {value!r}")
            if value < 0:
                raise BudgetError(f"Budget.{name} must be >= 0, got {value}")
        if self.replicas < 1:
            raise BudgetError(f"Budget.replicas must be >= 1, got {self.replicas}")
        for name in ("target_stderr", "max_wall_s"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BudgetError(f"Budget.{name} must be a number or None, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise BudgetError(f"Budget.{name} must be a positive finite number, got {value}")
            object.__setattr__(self, name, float(value))

    def token(self) -> str:
        """A canonical string of the fields, used in cache keys and provenance."""
        return ";".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))

    def to_attrs(self) -> dict[str, str | int | float]:
        """The budget as netCDF-compatible attributes (``None`` becomes ``"none"``)."""
        return {f"budget_{f.name}": ("none" if getattr(self, f.name) is None
                                     else getattr(self, f.name)) for f in fields(self)}
