"""Test-wide settings.

Hypothesis runs derandomized (the same examples on every machine) and without
a per-example deadline: CI is a noisy 2-core machine, and a red build must
mean a regression, not an unlucky draw or a slow moment. Run with
``--hypothesis-profile=explore`` to search with fresh random examples.
"""

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile("ci")
