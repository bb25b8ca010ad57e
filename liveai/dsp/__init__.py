"""Pure numerics: numba kernels and their streaming wrappers. Imports nothing from liveai."""
