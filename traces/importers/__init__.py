"""Importers of public GPU-cluster traces into schema v1."""
