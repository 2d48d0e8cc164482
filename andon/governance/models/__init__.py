"""The governance module's records, one file per subject."""

from .committees import *  # noqa: F401,F403
from .packs import *  # noqa: F401,F403
