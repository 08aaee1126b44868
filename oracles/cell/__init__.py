"""Periodic cell problems of homogenisation and their coefficients."""
