"""The fixed harness of rexbench: model protocol, checks, scoring, decoding, results, leaderboard, CLI."""

__version__ = "0.1.0"
