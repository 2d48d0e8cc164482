"""The medical staff module's door: other modules and the interfaces call only what is named here.

Each subject's logic lives in its own file; this file names what each offers to the rest of Andon."""

# Practitioners: identity, department, link to the clinical data, appointment cycle
from .practitioners import *  # noqa: F401,F403
# Credentials: licences, certifications, registrations, renewals, alerts before and on expiry
from .credentials import *  # noqa: F401,F403
# FPPE: started by a new privilege or a concern; plan, cases, conclusion
from .fppe import *  # noqa: F401,F403
# Privileges: the catalogue by department, requests through their steps, granted privileges
from .privileges import *  # noqa: F401,F403
# Peer review: referral, assignment, review, decision, letter (confidential)
from .peer_review import *  # noqa: F401,F403
# OPPE: department profiles, evaluations by practitioner, the reviewer's decision
from .oppe import *  # noqa: F401,F403
# Training and competencies: requirements, completions imported from the learning system, compliance
from .training import *  # noqa: F401,F403
