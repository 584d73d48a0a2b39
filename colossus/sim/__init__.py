"""SimPy simulation of the supercluster."""
