"""bun (the JavaScript runner in runners/js, on bun)."""
