"""Orders from a PostgreSQL queue into realms, exactly once (README.md)."""
