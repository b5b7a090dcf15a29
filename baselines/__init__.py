"""Baseline models and training recipes for rexbench."""
