"""pytest glue: turns manifests into test items (see plugin.py)."""
