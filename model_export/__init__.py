"""Workstation role: datasets, training, evaluation, export, quantisation, bundles (torch lives here only)."""
