"""wazero (a Go host program, built on first use)."""
