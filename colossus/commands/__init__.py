"""Click command modules of the ``colossus`` CLI; :mod:`colossus.cli` registers them."""
