"""Training and competencies: what the hospital requires of whom (by job role and unit, renewed
every so many months), the completions a learning system exports, and the roster those exports
make of who works where in what job role. docs/medstaff.md."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Organisation, Unit

__all__ = ["RequirementKind", "TrainingCompletion", "TrainingImport", "TrainingPerson", "TrainingRequirement"]


class RequirementKind(models.TextChoices):
    TRAINING = "training", "Training"
    COMPETENCY = "competency", "Competency"


class TrainingRequirement(Versioned):
    """A course or competency required of the people of some job roles in a unit (and the units
    below it) or in the whole organisation. One requirement per course code: the course's renewal
    is one fact, and completions are matched to it by that code."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    course_code = models.CharField(max_length=64, help_text="The course's code as the learning system writes it")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=RequirementKind.choices, default=RequirementKind.TRAINING)
    # As the learning system writes them ("RN", "HCA", "Physician"); matched without regard to case.
    job_roles = models.JSONField(default=list)
    # None: the whole organisation; else this unit and the units below it.
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    renewal_months = models.PositiveSmallIntegerField(null=True, blank=True,
                                                      help_text="Renewed every so many months; empty: never")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "pk"]
        constraints = [models.UniqueConstraint(fields=["organisation", "course_code"],
                                               name="medstaff_training_course_once")]

    def __str__(self):
        return f"{self.course_code} {self.title}"


class TrainingImport(models.Model):
    """One file of completions imported from the learning system."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=200)
    rows = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0, help_text="Completions not imported before")
    people = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-imported_at", "-pk"]


class TrainingPerson(models.Model):
    """The roster: each employee of the learning system with the unit and job role of the latest
    import that named them."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    job_role = models.CharField(max_length=64)
    # From when the person counts: their earliest completion (a newcomer is not counted as missing
    # training before they came).
    known_since = models.DateField()
    # The import that last changed their name, unit, job role or known_since.
    last_import = models.ForeignKey(TrainingImport, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name", "employee_id"]
        constraints = [models.UniqueConstraint(fields=["organisation", "employee_id"],
                                               name="medstaff_training_person_once")]

    def __str__(self):
        return f"{self.name} ({self.employee_id})"


class TrainingCompletion(models.Model):
    """One completion of a course by an employee, as the learning system exported it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee_id = models.CharField(max_length=64)
    course_code = models.CharField(max_length=64)
    completed_on = models.DateField()
    # As exported; empty: the requirement's renewal from the completion (or never).
    expires_on = models.DateField(null=True, blank=True)
    imported = models.ForeignKey(TrainingImport, on_delete=models.PROTECT, related_name="completions")

    class Meta:
        ordering = ["employee_id", "course_code", "completed_on"]
        constraints = [models.UniqueConstraint(fields=["organisation", "employee_id", "course_code", "completed_on"],
                                               name="medstaff_training_completion_once")]
        indexes = [models.Index(fields=["organisation", "course_code"])]
