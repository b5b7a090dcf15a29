"""Runnable submission examples: ``rexbench score --model examples.submit_flax:make_model ...``."""
