"""The risk module's door: other modules and the interfaces call only what is named here.

Each subject's logic lives in its own file (matrix, register, fmea); this file names what each
offers to the rest of Andon."""

# The matrix and its bands
from .matrix import *  # noqa: F401,F403
# The register: risks, scores, controls, escalation, heat map, board assurance framework
from .register import *  # noqa: F401,F403
# FMEA and HFMEA
from .fmea import *  # noqa: F401,F403
