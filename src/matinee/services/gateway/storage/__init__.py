"""The gateway owns no persistent data."""
