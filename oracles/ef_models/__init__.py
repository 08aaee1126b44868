"""Equation-free micro models (lift / micro / restrict pieces)."""
