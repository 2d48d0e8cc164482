"""Each pytest-xdist worker keeps its files in a data directory of its own.

The data directory holds the file cache (cleared around every test), exported files and
uploads: two workers sharing one would clear each other's throttling counters mid-test and
write exports of the same name. Loaded with `-p tests.worker_data_dir` (pyproject's addopts),
so it runs before pytest-django reads the settings, which fix the data directory at start-up.
"""

import os

_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    os.environ["ANDON_DATA_DIR"] = os.path.join(os.environ.get("ANDON_DATA_DIR", "./var"), _worker)
