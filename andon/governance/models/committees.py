"""Committees, their members and meetings: the agenda (standing items and what the modules
propose), attendance and quorum, minutes, decisions (which open actions in the shared tracker),
and the minutes approved at the next meeting (42 CFR 482.21(e): the governing body is accountable
for the quality programme and hears it through its committees)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["AgendaItem", "AgendaKind", "Attendance", "Committee", "Decision", "Meeting", "MeetingStatus",
           "Membership", "MemberRole", "StandingItem"]


class Committee(Versioned):
    organisation = models.ForeignKey("platform.Organisation", on_delete=models.PROTECT, related_name="+")
    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    terms_of_reference = models.TextField(max_length=20000, blank=True,
                                          help_text="Purpose, authority and duties, as the governing body set them")
    quorum = models.PositiveSmallIntegerField(default=3, help_text="Voting members present for its decisions to stand")
    reports_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reporting")
    meets_every = models.CharField(max_length=60, blank=True, help_text="e.g. Monthly, second Tuesday")
    # Peer review and other privileged committees: their agenda shows counts only, and only their
    # members read their minutes.
    confidential = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class MemberRole(models.TextChoices):
    CHAIR = "chair", "Chair"
    SECRETARY = "secretary", "Secretary"
    MEMBER = "member", "Member"
    ATTENDEE = "attendee", "Attendee (not voting)"


VOTING_ROLES = frozenset({MemberRole.CHAIR, MemberRole.SECRETARY, MemberRole.MEMBER})


class Membership(models.Model):
    committee = models.ForeignKey(Committee, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10, choices=MemberRole.choices, default=MemberRole.MEMBER)
    started_on = models.DateField(default=timezone.localdate)
    ended_on = models.DateField(null=True, blank=True, help_text="The term's end; empty while serving")

    class Meta:
        ordering = ["committee", "role", "user__last_name"]
        constraints = [models.UniqueConstraint(fields=["committee", "user", "started_on"], name="governance_member_once")]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}, {self.committee})"


class StandingItem(models.Model):
    committee = models.ForeignKey(Committee, on_delete=models.CASCADE, related_name="standing_items")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["committee", "position", "pk"]

    def __str__(self):
        return self.title


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    HELD = "held", "Held (minutes in draft)"
    MINUTES_APPROVED = "approved", "Minutes approved"
    CANCELLED = "cancelled", "Cancelled"


class Meeting(Versioned):
    committee = models.ForeignKey(Committee, on_delete=models.PROTECT, related_name="meetings")
    reference = models.CharField(max_length=30, unique=True, help_text="QPSC-2026-03")
    starts_at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    period_first = models.DateField(help_text="First day of the period the meeting reviews")
    period_last = models.DateField(help_text="Last day of the period the meeting reviews")
    status = models.CharField(max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED)
    minutes = models.TextField(max_length=50000, blank=True, help_text="General minutes (each item has its own notes)")
    # The minutes are approved at the next meeting: that meeting, who moved it and when.
    minutes_approved_at = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    minutes_approved_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["committee", "starts_at"], name="governance_meeting_when")]

    def __str__(self):
        return f"{self.reference} {self.committee.name}"

    @property
    def organisation(self):
        return self.committee.organisation


class AgendaKind(models.TextChoices):
    STANDING = "standing", "Standing item"
    PROPOSED = "proposed", "Proposed by the modules"
    ADDED = "added", "Added by the secretary"
    MINUTES = "minutes", "Minutes of the last meeting"


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=AgendaKind.choices, default=AgendaKind.ADDED)
    title = models.CharField(max_length=300)
    source = models.CharField(max_length=80, blank=True, help_text="The attention source's key (proposed items)")
    count = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(max_length=2000, blank=True)
    url = models.CharField(max_length=400, blank=True)
    presenter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    notes = models.TextField(max_length=20000, blank=True, help_text="The item's minutes")

    class Meta:
        ordering = ["meeting", "position", "pk"]

    def __str__(self):
        return self.title


class Attendance(models.Model):
    class Presence(models.TextChoices):
        PRESENT = "present", "Present"
        APOLOGIES = "apologies", "Apologies"
        ABSENT = "absent", "Absent"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.PRESENT)
    voting = models.BooleanField(default=True, help_text="A voting member on the day (counts to the quorum)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "user"], name="governance_attendance_once")]


class Decision(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="decisions")
    agenda_item = models.ForeignKey(AgendaItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reference = models.CharField(max_length=40, unique=True, help_text="QPSC-2026-03/D2")
    text = models.TextField(max_length=4000)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["meeting", "pk"]

    def __str__(self):
        return self.reference

    @property
    def organisation(self):
        return self.meeting.committee.organisation
