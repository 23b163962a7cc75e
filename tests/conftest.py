"""Suite-wide configuration: the Hypothesis profiles.

Pick one with the ``HYPOTHESIS_PROFILE`` environment variable:

- ``dev`` (the default): 100 examples per property, no deadline;
- ``ci``: 50 examples, sized so that the whole suite fits CI's time on two
  cores; prints the blob that reproduces a failure;
- ``thorough``: 1000 examples and longer stateful runs, for a soak before a
  release (``HYPOTHESIS_PROFILE=thorough .venv/bin/python -m pytest``).
"""

import os

from hypothesis import HealthCheck, settings


settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    derandomize=False,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    stateful_step_count=100,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
