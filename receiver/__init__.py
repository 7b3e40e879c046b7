"""Clinic receiver role: subscribe, verify, decrypt, store, acknowledge, report."""
