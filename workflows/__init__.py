"""Temporal workflows. Deterministic code only: rules come from `domain`, I/O from activities."""
