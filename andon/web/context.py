"""Template context every page gets: the navigation for this user."""

from django.conf import settings

from andon.platform import navigation


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": navigation.entries_for(None, request.path), "andon_demo": settings.DEMO}
    return {
        "nav": navigation.entries_for(user, request.path),
        "andon_demo": settings.DEMO,
    }
