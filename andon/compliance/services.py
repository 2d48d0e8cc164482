"""The compliance module's door: other modules and the interfaces call only what is named here.

Each subject's logic lives in its own file (frameworks, assessments, evidence, policies,
tracers); this file names what each offers to the rest of Andon.
"""

# Frameworks
from .frameworks import *  # noqa: F401,F403
# Assessments, readiness and findings
from .assessments import *  # noqa: F401,F403
# Evidence
from .evidence import *  # noqa: F401,F403
# Policies, approval and read-and-sign
from .policies import *  # noqa: F401,F403
# Findings (from assessments and tracers)
from .findings import *  # noqa: F401,F403
# The daily sweep (each subject registers its part)
from .sweep import register_sweep, run_sweeps  # noqa: F401
# Tracers
from .tracers import *  # noqa: F401,F403
