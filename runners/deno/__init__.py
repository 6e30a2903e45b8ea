"""deno (the JavaScript runner in runners/js, on deno)."""
