"""Forms for the measure pages. They parse input; the rules live in services."""

from django import forms

from andon.analytics.kpi import periods
from andon.platform import inputs
from andon.platform.forms import BoundedDateField, FiniteNumberField
from andon.platform.models import Unit

from .models import AnnotationKind, Measure, UnitMapping

UPLOAD_MAX_BYTES = 5 * 1024 * 1024


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, unit):
        return f"{unit.facility.name} · {unit.name}"


class MonthField(forms.CharField):
    """A month as YYYY-MM (the month input of browsers), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def clean(self, value):
        text = super().clean(value)
        if not text:  # left empty where it may be (required fields refused it above)
            return None
        try:
            return inputs.month(text)
        except inputs.InputError:
            raise forms.ValidationError(
                f"Give the month as YYYY-MM, from {inputs.EARLIEST:%Y-%m} to {inputs.LATEST:%Y-%m}.") from None


class AnnotationForm(forms.Form):
    date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="When the change was made")
    kind = forms.ChoiceField(choices=AnnotationKind.choices, initial=AnnotationKind.ACTION)
    text = forms.CharField(max_length=500, label="What was done")
    action = forms.ModelChoiceField(queryset=None, required=False, label="Action record (optional)")
    rebase = forms.BooleanField(required=False, label="Recompute the limits from this date (the process changed)")

    def __init__(self, *args, actions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].queryset = actions


class CountForm(forms.Form):
    unit = UnitChoiceField(queryset=None)
    month = MonthField()
    numerator = FiniteNumberField(min_value=0)
    denominator = FiniteNumberField(min_value=0)

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units.order_by("facility__name", "path")


class UploadForm(forms.Form):
    csv = forms.FileField(label="File")

    def clean_csv(self):
        """The file's size, then its text: decoded here, so that a file that is not UTF-8 is the
        form's error (a refused form), not an exception when the view reads it."""
        upload = self.cleaned_data["csv"]
        if upload.size > UPLOAD_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {UPLOAD_MAX_BYTES // (1024 * 1024)} MB.")
        try:
            self._text = inputs.utf8_text(upload.read())
        except inputs.InputError as problem:
            raise forms.ValidationError(f"The file is {problem}.") from None
        return upload

    def text(self) -> str:
        return self._text


class ComputeForm(forms.Form):
    measures = forms.ModelMultipleChoiceField(queryset=Measure.objects.filter(active=True), required=False,
                                              to_field_name="key", help_text="None chosen: every measure")
    kind = forms.ChoiceField(choices=[(k, k.capitalize()) for k in periods.KINDS], initial="month", label="Periods")
    first = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    last = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def clean_measures(self):
        return [m.key for m in self.cleaned_data["measures"]]

    def clean(self):
        data = super().clean()
        if data.get("first") and data.get("last") and data["last"] < data["first"]:
            raise forms.ValidationError("The range ends before it starts.")
        return data


class MappingForm(forms.Form):
    kind = forms.ChoiceField(choices=UnitMapping.Kind.choices)
    external_id = forms.CharField(max_length=500, label="Location or organization in the EHR data")
    unit = UnitChoiceField(queryset=Unit.objects.none())

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units.select_related("facility").order_by("facility__name", "path")


class CaseReviewForm(forms.Form):
    """The drill-down's filters, sort and page (GET). The unit is read apart (the scope's check)."""

    COUNTED = [("", "All cases"), ("numerator", "In the numerator"), ("denominator", "In the denominator"),
               ("not-numerator", "In the denominator, not the numerator"),
               ("excluded", "Excluded (not in the denominator)")]
    SORTS = [("at", "When it counts"), ("name", "Name"), ("mrn", "MRN"), ("age", "Age"), ("sex", "Sex"),
             ("unit", "Unit"), ("admitted", "Admitted"), ("discharged", "Discharged"), ("numerator", "Numerator"),
             ("denominator", "Denominator"), ("value", "Value")]

    counted = forms.ChoiceField(choices=COUNTED, required=False, label="Counted in")
    q = forms.CharField(max_length=100, required=False, label="Name or MRN contains",
                        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))
    sort = forms.ChoiceField(choices=SORTS, required=False, label="Sort by")
    dir = forms.ChoiceField(choices=[("asc", "Ascending"), ("desc", "Descending")], required=False, label="Order")
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False, label="Page")

    def filters(self) -> dict:
        data = self.cleaned_data
        return {"counted": data.get("counted") or "", "search": data.get("q") or "", "sort": data.get("sort") or "at",
                "descending": data.get("dir") == "desc"}


class DashboardForm(forms.Form):
    """The dashboard's months (GET); the facility and unit are read apart (the scope's check)."""

    first = MonthField(required=False, label="From month")
    last = MonthField(required=False, label="To month")

    def clean(self):
        data = super().clean()
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise forms.ValidationError("The first month comes after the last: swap them.")
        return data
