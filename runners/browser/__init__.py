"""The browser runner: Firefox (SpiderMonkey) and Chromium (V8), headless, driven by host.mjs."""

from pathlib import Path

HOST = Path(__file__).resolve().parent / "host.mjs"
