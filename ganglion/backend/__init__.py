"""Backend: dtypes, devices and array modules (NumPy/CuPy), and the random number generator."""
from ganglion.backend import dtypes, device, random  # noqa: F401
