"""Pure domain logic: no Qt, no HTTP, no SQLite."""
