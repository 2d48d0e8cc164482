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


def _each_active(recipients):
    """Each active person of `recipients` once (None and repeats left out)."""
    return {p.pk: p for p in recipients if p is not None and p.is_active}.values()


def notify(recipients, title: str, *, body: str = "", url: str = "", email: bool = True) -> list[Notification]:
    """An in-app notification per person and, with `email`, an e-mail to each who has an
    address, after commit."""
    created = []
    for person in _each_active(recipients):
        created.append(Notification.objects.create(recipient=person, title=title[:200], body=body[:4000], url=url))
        if email:
            send_email(person, title, body=body, url=url)
    return created


def email(recipients, title: str, *, body: str = "", url: str = "") -> int:
    """An e-mail to each active person, after commit, and no in-app notification: for what the
    home page already lists as a line of its own (a policy to read and sign, a decision asked of
    an approver, expired evidence). The line is worked out from the records and leaves when the
    work is done; an unread notification pointing to the same page would say it a second time and
    stay until opened. Returns how many e-mails are sent."""
    return sum(send_email(person, title, body=body, url=url) for person in _each_active(recipients))


def send_email(person, title: str, *, body: str = "", url: str = "") -> bool:
    """An e-mail to one person, sent after the transaction commits (a rolled-back change must not
    have told anyone anything); False when it is not sent (no address, e-mail off)."""
    if not person.email or not _sending_email.get():
        return False
    link = f"\n\n{settings.ANDON_BASE_URL.rstrip('/')}{url}" if url else ""
    transaction.on_commit(
        lambda to=person.email, text=body + link: send_mail(f"[Andon] {title}", text, None, [to], fail_silently=True))
    return True


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at=None).count()


def mark_read(user, *urls: str) -> int:
    """The person has opened what their notifications about these `urls` point to: they are
    read (one query). Called by the pages notifications link to (an event, a report, an action),
    so that the home page's line for it clears however the person got there."""
    urls = [url for url in urls if url]
    if not urls or not getattr(user, "is_authenticated", False):
        return 0
    from django.utils import timezone

    return Notification.objects.filter(recipient=user, url__in=urls, read_at=None).update(read_at=timezone.now())


def settle(url: str, title: str) -> int:
    """What the notifications titled `title` about `url` asked for is done (a report someone
    else triaged): they are read for everyone, and leave every home page."""
    from django.utils import timezone

    return Notification.objects.filter(url=url, title=title[:200], read_at=None).update(read_at=timezone.now())


def unread_by_link(user, limit: int = 20) -> list[dict]:
    """The person's unread notifications, one entry per page they point to (newest first): the
    newest title and body, and how many there are. Ten updates on one
    report are one line on the home page, not ten."""
    groups: dict[str, dict] = {}
    unread = Notification.objects.filter(recipient=user, read_at=None).only(
        "title", "body", "url", "created_at")[:500]
    for note in unread:
        key = note.url or f"#{note.pk}"
        group = groups.get(key)
        if group is None:
            if len(groups) >= limit:
                continue
            groups[key] = {"title": note.title, "body": note.body, "url": note.url, "count": 1}
        else:
            group["count"] += 1
    return list(groups.values())
