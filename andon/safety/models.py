"""Safety events: reports, their workflow, triage, feedback to the reporter, drafts,
attachments, and the separate route for conduct concerns (just culture)."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from andon.platform.concurrency import Versioned
from andon.platform.models import Unit

NARRATIVE_MAX = 10_000


class Kind(models.TextChoices):
    INCIDENT = "incident", "Incident (reached the patient)"
    NEAR_MISS = "near_miss", "Near miss (did not reach the patient)"
    UNSAFE_CONDITION = "unsafe_condition", "Unsafe condition (no patient involved)"
    GOOD_CATCH = "good_catch", "Good catch (someone stopped an error)"
    EXCELLENT_CARE = "excellent_care", "Excellent care (recognise a colleague)"


# Kinds that name harm on the AHRQ scale; the others score potential severity in triage.
KINDS_WITH_HARM = {Kind.INCIDENT}
# Kinds that are safety events (they go to triage); excellent-care reports are recognition.
SAFETY_KINDS = {Kind.INCIDENT, Kind.NEAR_MISS, Kind.UNSAFE_CONDITION, Kind.GOOD_CATCH}
# Harm (AHRQ scale codes) that makes a report urgent: it tops the triage queue and is escalated
# at once to the safety officers, the CQO and the CMO (services.escalate), as a sentinel event is.
SEVERE_HARMS = ("death", "severe")


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    TRIAGE = "triage", "In triage"
    REVIEW = "review", "Under review"
    INVESTIGATION = "investigation", "Under investigation (RCA)"
    ACTION_PLANNING = "action_planning", "Action planning"
    CLOSED = "closed", "Closed"


class Review(models.TextChoices):
    NONE = "none", "No further review"
    LOCAL = "local", "Local review by the unit"
    AGGREGATED = "aggregated", "Aggregated review (with similar events)"
    RCA = "rca", "Root cause analysis (RCA²)"


def hash_receipt(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def unordered_id() -> int:
    """A random id for a safety event or attachment, named or anonymous alike.

    Sequential ids (in every URL and API answer) would place an anonymous report between the
    named reports sent just before and after it, whose reporters and times are known. Ids are
    drawn from [2^32, 2^53): above any id given out sequentially before, and exact in JavaScript.
    Over a million reports the odds that one draw meets an id in use are about 1 in 18,000; the
    primary key refuses it, nothing is overwritten and the reporter sends again. Named records
    draw too: on SQLite, an explicit id above the others sets where sequential ones continue.
    """
    return 2**32 + secrets.randbelow(2**53 - 2**32)


class PersonAffected(models.TextChoices):
    PATIENT = "patient", "A patient"
    VISITOR = "visitor", "A visitor or family member"
    STAFF = "staff", "A member of staff"
    OTHER = "other", "Someone else"
    NOBODY = "nobody", "Nobody (a condition or a near miss)"


class Source(models.TextChoices):
    REPORT = "report", "Reported in Andon"
    IMPORT = "import", "Imported from an earlier system"


class SafetyEvent(FSMModelMixin, Versioned):
    """One report of a safety event, and what became of it.

    For an anonymous report `reporter` is empty and `reported_at` keeps only the day, so that
    neither the row nor its time can be matched against sign-ins or server logs. Officers' pages
    and API bodies carry the `version` they read, so a decision taken on an older one is refused
    (platform/concurrency.py).
    """

    id = models.BigIntegerField(primary_key=True, default=unordered_id, editable=False)
    # Named and imported reports: EV-<year>-<number in the year>; anonymous ones: EV-<year>-A-<random>
    # (services.assign_reference), so an anonymous report takes no number between two named ones.
    reference = models.CharField(max_length=20, unique=True, editable=False, null=True)
    # Imported historical events count in analysis but are not triaged nor owed feedback.
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.REPORT)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    category = models.CharField(max_length=40, help_text="As confirmed in triage")
    # The reporter's category: `details` answer its fields, whatever triage decides.
    reported_category = models.CharField(max_length=40)
    taxonomy_version = models.CharField(max_length=40)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="safety_events")
    occurred_at = models.DateTimeField()
    reported_at = models.DateTimeField()
    narrative = models.TextField(max_length=NARRATIVE_MAX)
    immediate_action = models.TextField(max_length=2000, blank=True)
    details = models.JSONField(default=dict, blank=True)
    harm = models.CharField(max_length=20, blank=True)
    # What a ward knows (issue 15, item 10), all optional unless the kind needs it: who was
    # affected, the patient's MRN or encounter as typed, and the patient and encounter found for it
    # in the FHIR store (ids only: the identity is read from the store by the pages that may show
    # it; empty when not found), witnesses, and where exactly within the unit.
    person_affected = models.CharField(max_length=20, choices=PersonAffected.choices, blank=True)
    patient_identifier = models.CharField(max_length=64, blank=True, help_text="MRN or encounter, as typed")
    patient_fhir_id = models.CharField(max_length=64, blank=True)
    encounter_fhir_id = models.CharField(max_length=64, blank=True)
    witnesses = models.TextField(max_length=1000, blank=True)
    location_detail = models.CharField(max_length=200, blank=True, help_text="Where exactly, within the unit")

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="reported_events")
    is_anonymous = models.BooleanField(default=False)
    reporter_shares_identity = models.BooleanField(
        default=False, help_text="The reporter agreed that the unit manager may see who reported")
    receipt_hash = models.CharField(max_length=64, blank=True, db_index=True)

    status = FSMField(default=Status.SUBMITTED, choices=Status.choices, protected=True)
    sac_scheme = models.CharField(max_length=20, blank=True)
    sac_severity = models.CharField(max_length=20, blank=True)
    sac_probability = models.CharField(max_length=20, blank=True)
    sac_score = models.PositiveSmallIntegerField(null=True, blank=True)
    is_sentinel = models.BooleanField(default=False)
    review = models.CharField(max_length=20, choices=Review.choices, blank=True)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    triaged_at = models.DateTimeField(null=True, blank=True)
    # Why the officer decided as they did; a triage to "no further review" moves the event
    # nowhere, so no workflow step would keep it.
    triage_reason = models.TextField(max_length=2000, blank=True)
    rca_start_due = models.DateTimeField(null=True, blank=True)
    rca_complete_due = models.DateTimeField(null=True, blank=True)
    rca_started_at = models.DateTimeField(null=True, blank=True)
    closing_summary = models.TextField(blank=True, help_text="Written for the reporter")
    # Why the event was closed while some of its actions were still open (services.move).
    open_actions_reason = models.TextField(max_length=2000, blank=True)
    # The findings of a local or aggregated review, which must be recorded before the event moves
    # on to action planning or is closed (services.record_review_findings).
    review_findings = models.TextField(max_length=4000, blank=True)
    review_findings_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    review_findings_at = models.DateTimeField(null=True, blank=True)
    first_feedback_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # The patient safety evaluation system (PSES) boundary, DOMAIN.md §9: a report is patient
    # safety work product from the moment it enters the PSES (when it is reported or imported)
    # until a patient safety officer removes it ("drop-out", e.g. because it must serve as a
    # state-mandated report), which is recorded with who, when and why and cannot be undone.
    pses_entered_at = models.DateTimeField(null=True, blank=True)
    pses_removed_at = models.DateTimeField(null=True, blank=True)
    pses_removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    pses_removal_reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-reported_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "reported_at"]),
            models.Index(fields=["unit", "reported_at"]),
            models.Index(fields=["category", "reported_at"]),
            # The event list's orders (newest reported, occurred), read a page at a time along
            # the index whatever the table's size (views.triage.Window; docs/benchmarks.md).
            models.Index(fields=["reported_at", "id"], name="safety_event_reported"),
            models.Index(fields=["occurred_at", "id"], name="safety_event_occurred"),
            # The triage queue (services.triage_queue): the few events waiting, oldest first,
            # whatever the table's size; with the unit, the queue's count reads the index alone.
            models.Index(fields=["reported_at", "id", "unit"], name="safety_event_waiting",
                         condition=models.Q(status__in=["submitted", "triage"], source="report",
                                            kind__in=["good_catch", "incident", "near_miss", "unsafe_condition"])),
        ]

    def __str__(self):
        return self.reference or f"event {self.pk}"

    @property
    def is_safety_event(self) -> bool:
        return self.kind in SAFETY_KINDS

    @property
    def is_severe(self) -> bool:
        """Severe harm, death or a sentinel event: first in the triage queue, escalated at once."""
        return self.harm in SEVERE_HARMS or self.is_sentinel

    @property
    def severity_label(self) -> str:
        """The words of the queue's and list's badge (never colour alone)."""
        if self.is_sentinel:
            return "Sentinel event"
        return {"death": "Death", "severe": "Severe harm"}.get(self.harm, "")

    @property
    def is_work_product(self) -> bool:
        """Inside the PSES: entered and not removed."""
        return self.pses_entered_at is not None and self.pses_removed_at is None

    def issue_receipt(self) -> str:
        """A code the reporter keeps to follow the report; only its hash is stored."""
        code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
        self.receipt_hash = hash_receipt(code)
        return code

    # The workflow. Guards on who may do each are in services (the policy); these say only
    # which moves exist.
    @transition(field=status, source=Status.SUBMITTED, target=Status.TRIAGE)
    def start_triage(self):
        pass

    @transition(field=status, source=Status.TRIAGE, target=Status.REVIEW)
    def send_to_review(self):
        pass

    @transition(field=status, source=Status.TRIAGE, target=Status.INVESTIGATION)
    def send_to_investigation(self):
        pass

    @transition(field=status, source=[Status.REVIEW, Status.INVESTIGATION], target=Status.ACTION_PLANNING)
    def plan_actions(self):
        pass

    @transition(field=status, source=[Status.TRIAGE, Status.REVIEW, Status.ACTION_PLANNING], target=Status.CLOSED)
    def close(self):
        self.closed_at = timezone.now()

    @transition(field=status, source=Status.CLOSED, target=Status.TRIAGE)
    def reopen(self):
        self.closed_at = None


class Deescalation(models.Model):
    """Lowering a SAC 3 or clearing the sentinel flag once the event's RCA has begun: its own
    step, by those with safety.deescalate, with the reason (services.deescalate). What it was
    and what it became are kept here; the RCA deadlines are removed only by this step, when the
    new score no longer requires an RCA."""

    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="deescalations")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(max_length=2000)
    sac_before = models.PositiveSmallIntegerField(null=True)
    sentinel_before = models.BooleanField()
    sac_after = models.PositiveSmallIntegerField()
    sentinel_after = models.BooleanField()
    severity_after = models.CharField(max_length=20)
    probability_after = models.CharField(max_length=20)
    rca_start_due_before = models.DateTimeField(null=True, blank=True)
    rca_complete_due_before = models.DateTimeField(null=True, blank=True)
    deadlines_removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "pk"]


class ReviewWaiver(models.Model):
    """A named leader's decision that the review the triage required (an RCA, a local review) is
    not needed before the event moves on: who, when, why (services.waive_review). It holds for the
    triage it was given after; a new triage asks again."""

    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="review_waivers")
    review = models.CharField(max_length=20, choices=Review.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(max_length=2000)

    class Meta:
        ordering = ["at", "pk"]


class Escalation(models.Model):
    """Who was alerted about a report of severe harm, death or a sentinel event, when, and by
    which channel (services.escalate): one row per person and channel, shown on the event page.

    Ids are random and, for an anonymous report, `at` keeps only the day, as every time of that
    report does: a sequential id or an exact time would place it among the named reports."""

    class Channel(models.TextChoices):
        IN_APP = "in_app", "In-app alert"
        EMAIL = "email", "E-mail"

    id = models.BigIntegerField(primary_key=True, default=unordered_id, editable=False)
    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="escalations")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    # In-app alerts: when the person opened the event (its line leaves their home page).
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "person_id", "channel"]
        indexes = [models.Index(fields=["person", "read_at"], name="safety_escalation_unread")]


class Transition(models.Model):
    """Every move of an event through the workflow: who, when, why."""

    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="transitions")
    source = models.CharField(max_length=20, choices=Status.choices)
    target = models.CharField(max_length=20, choices=Status.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(max_length=2000)

    class Meta:
        ordering = ["at", "pk"]


class ReporterMessage(models.Model):
    """What the reporter is told: status changes and the closing summary."""

    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="reporter_messages")
    text = models.TextField(max_length=4000)
    is_closing_summary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class ReporterQuestion(models.Model):
    """A question from the patient safety team to the anonymous reporter of an event, and the
    reporter's answer, given on the receipt page with the receipt code (nothing else ties the
    answer to anyone). The question is a named act (its officer and time are kept and audited);
    the answer keeps only its day, and its audit entry is held like the report's
    (services.answer_question)."""

    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField(max_length=2000)
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(max_length=4000, blank=True)
    answered_on = models.DateTimeField(null=True, blank=True, help_text="The day only (anonymous act)")

    class Meta:
        ordering = ["asked_at", "pk"]


class ReportDraft(models.Model):
    """A report being written, private to its author and never audited: if it is then sent
    anonymously, nothing of the draft may remain to tie the report to its author."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_drafts")
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]


def attachment_path(instance, filename):
    # A random name: the uploaded file's own name is kept in the row, not in the path.
    return f"safety/{secrets.token_hex(16)}"


class Attachment(models.Model):
    id = models.BigIntegerField(primary_key=True, default=unordered_id, editable=False)
    event = models.ForeignKey(SafetyEvent, on_delete=models.CASCADE, related_name="attachments")
    # Empty for an anonymous report's attachment: its bytes are a HeldFile in the database.
    file = models.FileField(upload_to=attachment_path, blank=True)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)


class HeldFile(models.Model):
    """The bytes of an anonymous report's attachment, kept in the database rather than as a file.

    A file system records when each file was made (the inode's change time, which no program can
    set back, unlike the modification time), which would date the report to the second for
    anyone who can list the folder. A row in the database carries no time.
    """

    attachment = models.OneToOneField(Attachment, on_delete=models.CASCADE, primary_key=True, related_name="held")
    content = models.BinaryField()


class ReferenceCounter(models.Model):
    """The last number given to a named or imported report in a year (EV-2026-000123)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField()


class ConductConcern(models.Model):
    """A concern about an individual's conduct (just culture): kept apart from safety events,
    seen only by those who handle accountability, never in the safety queue."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    about = models.CharField(max_length=200, help_text="Who the concern is about (name and role)")
    narrative = models.TextField(max_length=NARRATIVE_MAX)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    raised_at = models.DateTimeField(default=timezone.now)


class Investigation(models.Model):
    """The root cause analysis (RCA²) of one event: team, facts, whys, factors, root causes."""

    event = models.OneToOneField(SafetyEvent, on_delete=models.CASCADE, related_name="investigation")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    completed_at = models.DateTimeField(null=True, blank=True)
    # Sign-off: the RCA lead signs the findings, then an approver (CQO, CMO) approves them.
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    related_events = models.ManyToManyField(SafetyEvent, blank=True, related_name="+")

    def __str__(self):
        return f"RCA for {self.event}"

    @property
    def unit(self):
        # The policy scopes an investigation by its event's unit.
        return self.event.unit


class TeamMember(models.Model):
    class Part(models.TextChoices):
        LEAD = "lead", "Lead"
        EXPERT = "expert", "Subject-matter expert"
        SAFETY = "safety", "Safety-science leader"
        PATIENT = "patient", "Patient representative"
        MEMBER = "member", "Member"

    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="team")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    part = models.CharField(max_length=20, choices=Part.choices, default=Part.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["investigation", "person"], name="team_member_once")]


class TimelineEntry(models.Model):
    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    fact = models.TextField(max_length=2000)

    class Meta:
        ordering = ["at", "pk"]


class WhyChain(models.Model):
    """A 5-whys chain: a problem and the successive answers to "why?"."""

    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="why_chains")
    problem = models.TextField(max_length=1000)
    whys = models.JSONField(default=list)

    class Meta:
        ordering = ["pk"]


class ContributingFactor(models.Model):
    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="factors")
    category = models.CharField(max_length=40)
    description = models.TextField(max_length=1000)

    class Meta:
        ordering = ["category", "pk"]


class RootCause(models.Model):
    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="root_causes")
    statement = models.TextField(max_length=2000)

    class Meta:
        ordering = ["pk"]


class WorksheetChange(models.Model):
    """One change of an RCA's worksheet in plain words ("Root cause changed: … → …"), shown on the
    RCA page; the audit trail keeps the same change field by field."""

    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="changes")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    text = models.TextField(max_length=6000)

    class Meta:
        ordering = ["-at", "-pk"]
