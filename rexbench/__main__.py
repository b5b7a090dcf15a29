"""``python -m rexbench``: the ``rexbench`` console command."""

import sys

from rexbench.benchmark.cli import main

sys.exit(main())
