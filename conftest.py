"""pytest entry point of a clone: the conformance plugin lives in suites/plugin.py.

An installed suite registers the same module through its `pytest11` entry point, named
``suites.plugin`` like the module, so where both apply pytest loads it once."""

pytest_plugins = ["suites.plugin"]
