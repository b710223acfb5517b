"""The event bus (filled in by the event-bus work)."""
