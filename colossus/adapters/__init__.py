"""Adapters to outside systems (DESIGN.md §2): each in a room of its own, called from the CLI.

The scheduler stays pure; an adapter turns an outside system's state into a scheduler snapshot
and a decision into that system's own commands.
"""
