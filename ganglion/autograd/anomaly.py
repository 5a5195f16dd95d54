"""Anomaly detection: the first NaN/Inf produced in backward raises, naming the op and where it
was created in forward.

Example:
    >>> import ganglion
    >>> with ganglion.autograd.detect_anomaly():
    ...     x = ganglion.tensor([0.0], requires_grad=True)
    ...     try:
    ...         x.sqrt().sum().backward()
    ...     except RuntimeError as e:
    ...         print(str(e).splitlines()[0])
    Function 'SqrtBackward0' returned inf values in its 0th output.
"""
from __future__ import annotations

from ganglion.autograd.grad_mode import STATE

__all__ = ["set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on for its body."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = STATE.anomaly
        STATE.anomaly = self.check_nan

    def __exit__(self, *exc):
        STATE.anomaly = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off: as a call, or as a context manager for its body."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = STATE.anomaly
        STATE.anomaly = bool(mode) and check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.anomaly = self._prev
        return False
