"""The safety module's object rules, added to the one policy (andon/platform/permissions.py).

- A reporter always sees their own report (and its feedback), never its analysis as such.
- Those with safety.view_events see events in their scope (unit managers: their units).
- A root cause analysis is read by those who see events in its unit and by its team (RCA²
  teams include people from outside the safety office); reporting the event is not enough.
- The reporter's name is shown to the reporter, to those with safety.view_reporter in scope,
  and to unit managers only when the reporter agreed; never for an anonymous report.
"""

import rules

from andon.platform.permissions import add_rule, holds


@rules.predicate
def is_reporter(user, event):
    return event is not None and event.reporter_id is not None and event.reporter_id == user.pk


@rules.predicate
def reporter_agreed(user, event):
    return event is not None and event.reporter_shares_identity


@rules.predicate
def is_anonymous(user, event):
    return event is not None and event.is_anonymous


@rules.predicate
def on_the_team(user, investigation):
    return investigation is not None and investigation.team.filter(person=user).exists()


add_rule("safety.view_event", is_reporter | holds("safety.view_events"))
# RCA team members work on their investigation even without the capability (RCA² teams include
# people from outside the safety office).
add_rule("safety.edit_investigation", holds("safety.investigate") | on_the_team)
add_rule("safety.view_investigation", holds("safety.view_events") | on_the_team)
add_rule(
    "safety.see_reporter",
    ~is_anonymous & (is_reporter | holds("safety.view_reporter") | (holds("safety.view_events") & reporter_agreed)),
)
