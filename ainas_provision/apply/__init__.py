"""Applying a plan: the executor walks the plan's changes against a backend."""
