"""scheduler: pure allocation for a GPU supercluster -- a snapshot in, a decision out.

Never imports SimPy or any other package of this distribution.
"""

__colossus_planner__ = True  # marker checked by the colossus CLI (PyPI has a 'scheduler' too)
