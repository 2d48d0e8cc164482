"""The risk module's door: other modules and the interfaces call only what is named here.

Each subject's logic lives in its own file (matrix, register, fmea); this file names what each
offers to the rest of Andon."""

# The matrix and its bands
from .matrix import *  # noqa: F401,F403
# The register: risks, scores, controls, escalation, heat map, board assurance framework
from .register import *  # noqa: F401,F403
# FMEA and HFMEA
from .fmea import *  # noqa: F401,F403
# Links to other modules' records (safety, measures as key risk indicators, FMEAs, findings)
from .links import *  # noqa: F401,F403
# One risk: where it may be raised and who may own it, its trend, its controls, links and actions by id
from .record import *  # noqa: F401,F403
