"""Backend: dtypes, devices and array modules (NumPy/CuPy), the random number generator, threads
and the heap settings (``allocator``)."""
from ganglion.backend import allocator, dtypes, device, random  # noqa: F401

allocator.tune()
