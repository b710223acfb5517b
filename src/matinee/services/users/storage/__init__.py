"""Users storage adapters."""

from matinee.services.users.storage.sql import MIGRATIONS, SqlUsersStore

__all__ = ["MIGRATIONS", "SqlUsersStore"]
