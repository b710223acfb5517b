"""Media storage adapters: the jobs table and the origin store."""

from matinee.services.media.storage.jobs import MIGRATIONS, SqlJobs
from matinee.services.media.storage.origin import ObjectNotFound, OriginStore

__all__ = ["MIGRATIONS", "ObjectNotFound", "OriginStore", "SqlJobs"]
