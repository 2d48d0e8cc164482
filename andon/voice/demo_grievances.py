"""The demo hospital's complaints and grievances: a dozen over the last months, across units and
channels: some resolved at the time, some open, one overdue, one from the web form not yet
classified, one alleging harm linked to a demo safety event. Before them, two years of resolved
grievances on the wards (a few a month, most answered within the time frame), from which the
grievance measures are fed for the dashboard's 24 months, as patient relations' button feeds them."""

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from andon.platform import audit
from andon.platform.models import Unit, User

from . import grievances
from .models import GrievanceClock
from .models.grievances import Channel, Grievance, GrievanceCategory, GrievanceStatus

# (days ago, channel, resolved at the time, unit, categories, description, contact, resolved after days)
COMPLAINTS = [
    (120, Channel.PHONE, True, "rgh/4w", ["food-environment"], "Meals arrived cold two evenings running.",
     "Maria Lopez (daughter)", None),
    (96, Channel.LETTER, False, "rgh/icu", ["communication"],
     "Nobody told the family my father had been moved from intensive care until we arrived.", "James Carter (son)", 6),
    (80, Channel.EMAIL, False, "lch/2a", ["billing"], "I was billed twice for the same outpatient visit.",
     "Sam Patel (patient)", 5),
    (71, Channel.IN_PERSON, True, "rgh/4w", ["dignity-privacy"],
     "The curtain was left open during my mother's wash; the nurse apologised and it was put right.",
     "Ellen Brooks (daughter)", None),
    (60, Channel.IN_PERSON, False, "lch/2a", ["staff-attitude"], "A porter was rude to my wife at the lift.",
     "Tom Reed (husband)", 9),
    (45, Channel.PHONE, False, "rgh/icu", ["access", "communication"],
     "Visiting hours were changed without notice and we were turned away.", "Ana Silva (sister)", 4),
    (33, Channel.EMAIL, False, "rgh/4w", ["discharge"],
     "My father was discharged without his new medicines explained.", "Grace Kim (daughter)", None),
    (21, Channel.PHONE, True, "lch/2a", ["food-environment"], "The ward was too noisy at night; ear plugs were given.",
     "Paul Young (patient)", None),
    (12, Channel.LETTER, False, "rgh/icu", ["care"], "My mother's pain was not treated for hours overnight.",
     "Rita Jones (daughter)", None),
    (5, Channel.EMAIL, False, "lch/2a", ["communication"], "The doctor spoke only to the student, not to me.",
     "Lee Wong (patient)", None),
    (3, Channel.IN_PERSON, False, "rgh/4w", ["other"], "Our car was ticketed while we waited for a wheelchair.",
     "Mo Ahmed (husband)", None),
]
# The history's wards and what their grievances were about (drawn a few a month, seeded).
HISTORY_WARDS = ["rgh/4w", "rgh/5e", "rgh/6n", "rgh/icu", "lch/2a"]
HISTORY_TOPICS = [
    (["communication"], "The family was not told of a change in the plan of care."),
    (["staff-attitude"], "A member of staff was dismissive when asked for help."),
    (["care"], "Pain relief was slow to come after it was asked for."),
    (["discharge"], "Discharge was arranged at short notice without the family."),
    (["food-environment"], "The bay was noisy and the meals were cold."),
    (["access"], "Visitors were turned away outside the posted hours."),
]
HARM = "My husband fell on the way to the bathroom at night and nobody came when he rang the bell."
WEB_FORM = "The call bell on my aunt's bed did not work for a whole day and nobody fixed it."


def _unit(key: str) -> Unit | None:
    facility, code = key.split("/")
    return Unit.objects.filter(facility__code=facility, code=code).first()


def _categories(keys):
    return [c.pk for c in GrievanceCategory.objects.filter(key__in=keys)]


def load_demo_grievances() -> None:
    pablo = User.objects.filter(is_demo=True, username="pr.pablo").first()
    if pablo is None or Grievance.objects.exists() or not GrievanceCategory.objects.exists():
        return
    now = timezone.now()
    with audit.acting_as(pablo):
        _history(pablo)
        for days, channel, at_time, unit, keys, description, contact, resolved_after in COMPLAINTS:
            name, relationship = contact.rstrip(")").split(" (")
            place = _unit(unit)
            grievance = grievances.log_complaint(pablo, grievances.Intake(
                channel=channel, received_at=now - timedelta(days=days, hours=2), description=description,
                unit_id=place.pk if place else None, category_ids=_categories(keys), contact_name=name,
                relationship=relationship, contact_details="On file with patient relations",
                resolved_at_time=at_time))
            if resolved_after is not None:  # resolved in the demo's past (the clock's work today)
                Grievance.objects.filter(pk=grievance.pk).update(
                    status=GrievanceStatus.RESOLVED, resolved_on=grievance.received_on + timedelta(days=resolved_after))
            if days == 33:
                Grievance.objects.filter(pk=grievance.pk).update(owner=pablo)
        _harm_grievance(pablo, now)
    grievances.submit_public_complaint(grievances.PublicComplaint(
        description=WEB_FORM, unit_id=(_unit("rgh/4w") or Unit.objects.first()).pk, contact_name="Nina Hart",
        relationship="Niece", contact_details="nina.hart@example.org"))


def _harm_grievance(pablo, now) -> None:
    """A grievance alleging harm, linked to a demo fall reported on the same ward."""
    from andon.safety import services as safety

    place = _unit("rgh/4w")
    grievance = grievances.log_complaint(pablo, grievances.Intake(
        channel=Channel.PHONE, received_at=now - timedelta(days=2), description=HARM,
        unit_id=place.pk if place else None, contact_name="Joan Miller", relationship="Wife",
        contact_details="On file with patient relations"))
    officer = User.objects.filter(is_demo=True, username="pso.hana").first()
    event = safety.events_visible_to(officer).filter(unit=place).order_by("pk").first() if officer else None
    if event is not None:
        grievance.safety_events.add(event)
        grievance.categories.set(_categories(["safety", "care"]))


def _history(pablo) -> None:
    """Two years of grievances, received on the wards month by month and resolved in 2 to 12 days
    (about one in six after the time frame), then the grievance measures fed from them."""
    from . import clock

    chance, today = random.Random(2026), timezone.localdate()
    # The dashboard's window: the 24 months ending with last month.
    first, last = clock.month_start(today, 24), clock.month_start(today) - timedelta(days=1)
    month = first
    while month <= last:
        for _ in range(chance.randint(3, 6)):
            received_on = month + timedelta(days=chance.randint(0, 17))
            keys, description = chance.choice(HISTORY_TOPICS)
            place = _unit(chance.choice(HISTORY_WARDS))
            grievance = grievances.log_complaint(pablo, grievances.Intake(
                channel=chance.choice([Channel.PHONE, Channel.EMAIL, Channel.LETTER]),
                received_at=timezone.make_aware(datetime.combine(received_on, time(10))), description=description,
                unit_id=place.pk if place else None,
                category_ids=_categories(keys), contact_name="Former patient", relationship="Patient",
                contact_details="On file with patient relations"))
            resolved_on = min(grievance.received_on + timedelta(days=_days_to_answer(chance)), today)
            Grievance.objects.filter(pk=grievance.pk).update(status=GrievanceStatus.RESOLVED, resolved_on=resolved_on)
            GrievanceClock.objects.update_or_create(grievance=grievance,
                                                    defaults={"resolved_in_time": resolved_on <= grievance.due_on})
        month = clock.month_start(month, -1)
    fed = clock.feed_grievance_measures(pablo, first, last)
    if not fed["counts"]:
        raise RuntimeError(f"the demo's grievance measures were not fed: {fed['problems'][:3]}")


def _days_to_answer(chance: random.Random) -> int:
    return chance.randint(2, 7) if chance.random() < 0.83 else chance.randint(8, 12)
