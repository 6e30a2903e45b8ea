"""pytest entry point: the conformance plugin lives in suites/plugin.py."""

pytest_plugins = ["suites.plugin"]
