"""The patient voice module's records, one file per subject."""

from .surveys import *  # noqa: F401,F403
from .comments import *  # noqa: F401,F403
from .grievances import *  # noqa: F401,F403
from .letters import *  # noqa: F401,F403
from .committee import *  # noqa: F401,F403
