"""The actions module's object rules, added to the one policy (andon/platform/permissions.py).

Capabilities (roles.CAPABILITIES), scoped by the action's unit:
- actions.view: see actions; actions.manage: create and edit them, record effectiveness;
  actions.approve: approve or reject them (leadership).

Object rules:
- actions.update_own: the action's owner, whatever their roles.
- actions.view_action: the owner, or actions.view over the action's unit.
- actions.set_status: the owner, or actions.manage over the action's unit.
- actions.use (no object: pages and navigation): actions.view anywhere, or owning an action.
"""

import rules

from andon.platform.permissions import add_rule, holds, person_fact


@rules.predicate
def is_action_owner(user, action):
    return action is not None and getattr(action, "owner_id", None) == user.pk


def _actions_owned(person):
    from .models import Action

    return Action.objects.filter(owner=person)


# Whether the user owns any action (the navigation asks on every page).
owns_actions = person_fact("owns_an_action", _actions_owned)


@rules.predicate
def owns_an_action(user):
    return owns_actions(user)


add_rule("actions.update_own", is_action_owner)
add_rule("actions.view_action", is_action_owner | holds("actions.view"))
add_rule("actions.set_status", is_action_owner | holds("actions.manage"))
add_rule("actions.use", holds("actions.view") | owns_an_action)
