"""One search instance over the benchmark catalog, for wrk.

    python -m benchmarks.search.serve PORT [SCALE]


The titles come through the in-process feed (the same index code as from JetStream),
served by uvicorn with uvloop and httptools, one process: one core.
"""

from __future__ import annotations

import sys

import uvicorn
from benchmarks.search import data

from matinee.services.search.app import create_app
from matinee.services.search.settings import SearchSettings
from matinee.services.search.storage import MemoryTitleFeed


def main() -> None:
    port = int(sys.argv[1])
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    app = create_app(SearchSettings(log_json=False), feed=MemoryTitleFeed(data.catalog(scale)))
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
