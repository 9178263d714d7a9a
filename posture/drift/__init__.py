"""Drift: compare two snapshots, classify each change, and say who made it."""
