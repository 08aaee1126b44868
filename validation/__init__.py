"""Reproducible validation cases with known answers.

Each function runs one case and returns the measured numbers (errors,
observed orders) next to what theory predicts; the tests assert on them and
``docs/make_validation.py`` tabulates them in ``docs/validation.md``.
"""
