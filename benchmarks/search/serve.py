"""One search instance over the benchmark catalog, for wrk.

    python -m benchmarks.search.serve PORT [SCALE]


The titles come through the in-process feed (the same index code as from JetStream),
served by uvicorn with uvloop and httptools, one process: one core.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import uvicorn
from benchmarks.search import data

from matinee.services.search.app import create_app
from matinee.services.search.settings import SearchSettings
from matinee.services.search.storage import MemoryTitleFeed


def main() -> None:
    port = int(sys.argv[1])
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    # Its own viewing-history database (empty: every profile's hint is looked up, cached,
    # and comes back empty), so the request path is the one a signed-in profile takes.
    settings = SearchSettings(log_json=False, data_dir=Path(tempfile.mkdtemp(prefix="search-")))
    app = create_app(settings, feed=MemoryTitleFeed(data.catalog(scale)))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
