"""`{% if request.user|can:"platform.view_audit" %}`: templates ask the same policy."""

from django import template

from andon.platform.permissions import can as policy_can

register = template.Library()


@register.filter
def can(user, permission):
    return policy_can(user, permission)
