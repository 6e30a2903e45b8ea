"""Readers and renderers of results files."""
