"""capacity: expansion planning (MILP), Monte Carlo evaluation and HTML reports."""

__colossus_planner__ = True  # marker checked by the colossus CLI (PyPI has a 'capacity' too)
