"""The JavaScript runner shared by the node, deno and bun engines: host.mjs and its modules."""

from pathlib import Path

HOST = Path(__file__).resolve().parent / "host.mjs"
