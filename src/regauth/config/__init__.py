"""Docker's config directory: config.json, its lock, regauth's settings, other auth files."""
