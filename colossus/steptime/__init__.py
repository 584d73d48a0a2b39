"""Step-time model of transformer training, written once for NumPy and CuPy."""
