"""node (the JavaScript runner in runners/js, on node)."""
