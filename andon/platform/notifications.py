"""Telling people things: an in-app notification, and an e-mail when they have an address.

Modules call `notify`; the text they pass must be fit for the recipient (a notification about
a confidential record says what to open, not what it holds).
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from .models import Notification

_sending_email = ContextVar("andon_sending_email", default=True)


@contextmanager
def without_email():
    """In-app notifications only (loading the demo: made-up people need no e-mail)."""
    token = _sending_email.set(False)
    try:
        yield
    finally:
        _sending_email.reset(token)


def notify(recipients, title: str, *, body: str = "", url: str = "", email: bool = True) -> list[Notification]:
    created = []
    for person in {p.pk: p for p in recipients if p is not None and p.is_active}.values():
        created.append(Notification.objects.create(recipient=person, title=title[:200], body=body[:4000], url=url))
        if email and person.email and _sending_email.get():
            link = f"\n\n{settings.ANDON_BASE_URL.rstrip('/')}{url}" if url else ""
            # After commit: a rolled-back change must not have told anyone anything.
            transaction.on_commit(
                lambda to=person.email, text=body + link: send_mail(
                    f"[Andon] {title}", text, None, [to], fail_silently=True)
            )
    return created


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at=None).count()
