"""Time-steppers (see :mod:`macro.steppers.base`)."""

from .base import *  # noqa: F401,F403
from .base import STEPPERS, Stepper, StepperError, StepResult, get_stepper  # noqa: F401
