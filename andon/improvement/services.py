"""The improvement module's door: other modules and the interfaces call only what is named here.

Each subject's logic lives in its own file (projects, audits); this file names what each offers
to the rest of Andon."""

# QI projects: charter, driver diagram, PDSA cycles, portfolio
from .projects import *  # noqa: F401,F403
# Clinical audits: tools, criteria, samples, answers, agreement, results, the cycle
from .audits import *  # noqa: F401,F403
# Clinical audits: results, re-audit comparison, findings, results into the measure; the cycle
from .results import *  # noqa: F401,F403
from .cycle import *  # noqa: F401,F403
from .entry import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
# Clinical audits: the results page's content and the audit report as a PDF
from .report import *  # noqa: F401,F403
