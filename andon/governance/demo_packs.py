"""The demo hospital's board pack: last month's, drafted (version 1) by the CQO, so the board's
journey starts from a draft with the modules' sections as the demo's data make them. Runs after
the other modules' demo loaders (governance is installed last); nothing twice."""

from django.utils import timezone

from andon.platform import demo
from andon.platform.models import Organisation, User

from . import packs
from .models import BoardPack


def load() -> None:
    olivia = User.objects.filter(username="cqo.olivia", is_active=True).first()
    organisation = Organisation.objects.order_by("pk").first()
    if olivia is None or organisation is None or BoardPack.objects.filter(organisation=organisation).exists():
        return
    packs.draft(olivia, organisation, packs.previous_month(timezone.localdate()))


def register() -> None:
    if load not in demo.DEMO_LOADERS:
        demo.register_demo_loader(load)
