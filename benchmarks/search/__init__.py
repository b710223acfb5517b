"""Search quality and speed against SQLite FTS5 and tantivy (issue 5)."""
