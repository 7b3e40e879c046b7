"""Biomarkers v2: the per-frame measures a session summary is made of, each defined once.

Every module here is either a pure function of one frame (and the neutral baseline) or a
small tracker whose state is a fixed number of values, so memory does not grow with the
session. docs/biomarkers.md gives each measure's formula, unit and a figure.
"""
