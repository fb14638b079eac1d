"""Built-in protocol specifications (TOML), shipped as package data."""
