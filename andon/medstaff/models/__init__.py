"""The medical staff module's records, one file per subject."""

from .credentials import *  # noqa: F401,F403
from .fppe import *  # noqa: F401,F403
from .peer_review import *  # noqa: F401,F403
from .practitioners import *  # noqa: F401,F403
from .privileges import *  # noqa: F401,F403
from .oppe import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
