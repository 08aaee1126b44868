"""Time-steppers, one base class and one registry.

==================  =============  =========  =====  ==========================================
name                law form       kind       order  stability control
==================  =============  =========  =====  ==========================================
``explicit_euler``  semi_discrete  explicit   1      CFL sub-cycling (``law.max_rate``)
``heun``            semi_discrete  explicit   2      CFL sub-cycling (RK2, same real-axis limit)
``implicit_euler``  semi_discrete  implicit   1      theta = 1, modified Newton
``crank_nicolson``  semi_discrete  implicit   2      theta = 1/2, modified Newton
``nessyahu_tadmor`` flux           explicit   2      CFL sub-cycling (``law.max_speed``)
==================  =============  =========  =====  ==========================================

All are :class:`Stepper` subclasses (:mod:`macro.steppers.base`) with one
result type :class:`StepResult`, chosen by name through :data:`STEPPERS` /
:func:`get_stepper`, and work with any law following
:class:`macro.ConservationLaw` in a form they list (:mod:`macro.law`).
"""

from __future__ import annotations

from typing import Any

from .base import Stepper, StepperError, StepResult
from .central import NessyahuTadmor
from .explicit import ExplicitEuler, Heun
from .implicit import CrankNicolson, ImplicitEuler

__all__ = [
    "Stepper", "StepResult", "StepperError", "ExplicitEuler", "Heun", "ImplicitEuler",
    "CrankNicolson", "NessyahuTadmor", "STEPPERS", "get_stepper",
]

STEPPERS: dict[str, type[Stepper]] = {
    cls.name: cls for cls in (ExplicitEuler, Heun, ImplicitEuler, CrankNicolson, NessyahuTadmor)
}
"""Registry of time-steppers by name."""


def get_stepper(name_or_class: Any) -> type[Stepper]:
    """Return the stepper class for a registry name or a :class:`Stepper` subclass.

    Raises
    ------
    ValueError
        Unknown name; the message lists the valid names.
    TypeError
        Neither a string nor a Stepper subclass.
    """
    if isinstance(name_or_class, str):
        try:
            return STEPPERS[name_or_class]
        except KeyError:
            raise ValueError(
                f"get_stepper(): unknown stepper {name_or_class!r}; valid names are {sorted(STEPPERS)}"
            ) from None
    if isinstance(name_or_class, type) and issubclass(name_or_class, Stepper):
        return name_or_class
    raise TypeError(
        "get_stepper(): `name_or_class` must be a stepper name "
        f"({sorted(STEPPERS)}) or a Stepper subclass, got {type(name_or_class).__name__}"
    )
