"""One module per ``rexbench`` subcommand; each exposes ``register(subparsers)``."""
