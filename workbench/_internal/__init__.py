"""Shared helpers with exactly one home each; not API."""
