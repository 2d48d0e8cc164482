"""The patient voice module's door: other modules and the interfaces call only what is named here.

Each subject's logic lives in its own file; this file names what each offers to the rest of Andon."""

# Surveys: question sets (content), column mappings, the vendor file's import
from .surveys import *  # noqa: F401,F403
# Scores: top-box shares and composites by month, unit, service line and stratum; the measures they feed
from .scores import *  # noqa: F401,F403
# Comments: search, themes, a comment that describes harm raised as a safety event
from .comments import *  # noqa: F401,F403
# Complaints and grievances: intake (staff and the public form), the rule, categories, links
from .grievances import *  # noqa: F401,F403
# The clock: the time frame, days left, reminders, the grievance measures
from .clock import *  # noqa: F401,F403
# Letters: the interim letter and the four-element resolution letter, approved, sent, PDF
from .letters import *  # noqa: F401,F403
# The grievance committee: escalation, decisions, actions
from .committee import *  # noqa: F401,F403
