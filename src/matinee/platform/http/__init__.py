"""The resilient HTTP client (filled in by the resilient-client work)."""
