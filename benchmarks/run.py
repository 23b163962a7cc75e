"""Print every benchmark figure beside its baselines.

Usage::

    .venv/bin/python benchmarks/run.py [--quick] [--only PREFIX] [--json PATH]

Each ``benchmarks/bench_*.py`` module contributes ``FIGURES``; see
``benchmarks/_harness.py`` for how figures are measured and reported.
"""

import sys

from _harness import main


if __name__ == "__main__":
    sys.exit(main())
