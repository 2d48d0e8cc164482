"""Pages of patients' comments: the search (with tagging of many), one comment (its themes, the
safety event raised from it), the form that raises the event, the themes' page and a unit's
theme counts. Thin: parse, ask the services, render."""

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from andon.platform import charts, history, inputs, permissions
from andon.platform.forms import add_errors
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import comments as service
from ..models import CommentTheme, SurveyComment

PAGE_SIZE = 25
NARRATIVE_MAX = 8000


# --- forms -----------------------------------------------------------------------------------------

class MonthField(forms.CharField):
    """YYYY-MM, checked by the platform's input boundary."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return inputs.month(value)
        except inputs.InputError as problem:
            raise ValidationError(str(problem)) from problem


class SearchForm(forms.Form):
    q = forms.CharField(label="Words", required=False, max_length=service.SEARCH_MAX)
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False, empty_label="All my units")
    month_from = MonthField(label="From (YYYY-MM)", required=False, max_length=7)
    month_to = MonthField(label="To (YYYY-MM)", required=False, max_length=7)
    theme = forms.ModelChoiceField(queryset=CommentTheme.objects.all(), required=False, empty_label="Any theme")
    untagged = forms.BooleanField(label="Untagged only", required=False)
    question = forms.CharField(required=False, max_length=60)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Any unit is accepted, so one outside the grants is the service's refusal (403, as every
        # refusal), while only the user's units are offered.
        self.fields["unit"].queryset = Unit.objects.all()
        offered = permissions.units_where(user, "voice.view_comments").select_related("facility").order_by("path")
        self.fields["unit"].widget.choices = [("", "All my units")] + [(u.pk, str(u)) for u in offered]

    def filters(self) -> service.CommentFilters:
        clean = self.cleaned_data
        return service.CommentFilters(words=clean.get("q") or "", unit=clean.get("unit"),
                                      month_from=clean.get("month_from"), month_to=clean.get("month_to"),
                                      theme=clean.get("theme"), untagged=bool(clean.get("untagged")),
                                      question=clean.get("question") or "")


class ThemesForm(forms.Form):
    """One comment's themes: the offered ones, and any retired one it carries already."""

    themes = forms.ModelMultipleChoiceField(queryset=CommentTheme.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, comment, **kwargs):
        super().__init__(*args, **kwargs)
        kept = comment.themes.values("pk")
        self.fields["themes"].queryset = CommentTheme.objects.filter(
            Q(active=True) | Q(pk__in=kept)).order_by("label")
        if not self.is_bound:
            self.initial["themes"] = list(comment.themes.values_list("pk", flat=True))


class TagManyForm(forms.Form):
    """The list's one form: the ticked comments (checkboxes on the rows name this form)."""

    comments = forms.ModelMultipleChoiceField(queryset=SurveyComment.objects.all(), widget=forms.MultipleHiddenInput)
    add = forms.ModelChoiceField(queryset=CommentTheme.objects.filter(active=True), required=False,
                                 empty_label="—", label="Add theme")
    remove = forms.ModelChoiceField(queryset=CommentTheme.objects.all(), required=False, empty_label="—",
                                    label="Remove theme")


class ThemeForm(forms.Form):
    label = forms.CharField(max_length=service.THEME_LABEL_MAX)
    description = forms.CharField(max_length=service.THEME_DESCRIPTION_MAX, required=False)
    active = forms.BooleanField(label="Offered for new tags", required=False, initial=True)


class RaiseForm(forms.Form):
    """What the safety report form asks, prefilled from the comment."""

    kind = forms.ChoiceField()
    category = forms.ChoiceField()
    harm = forms.ChoiceField(required=False, help_text="For an incident (it reached the patient).")
    occurred_on = forms.DateField(label="When it happened (about)", widget=forms.DateInput(attrs={"type": "date"}))
    narrative = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=NARRATIVE_MAX,
                                label="What happened")

    def __init__(self, *args, tax, **kwargs):
        from andon.safety import services as safety

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, label) for k, label in safety.Kind.choices if k != "excellent_care"]
        self.fields["category"].choices = [(c["code"], c["label"]) for c in tax.categories]
        self.fields["harm"].choices = [("", "—")] + [(h["code"], h["label"]) for h in tax.harm_scale]


# --- search and tagging ----------------------------------------------------------------------------

@requires("voice.view_comments")
def comments(request):
    form = SearchForm(request.GET or None, user=request.user)
    page, rows = None, []
    if not form.is_bound or form.is_valid():
        if not form.is_bound:
            form.cleaned_data = {}
        found = service.search_comments(request.user, form.filters())
        page = Paginator(found.prefetch_related("themes", "safety_event__unit"), PAGE_SIZE).get_page(
            request.GET.get("page"))
        words = service.comment_words(form.cleaned_data.get("q", ""))
        rows = [_row(request.user, c, words) for c in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "voice/comments.html", {
        "form": form, "page": page, "rows": rows, "query": query.urlencode(),
        "may_tag": permissions.can(request.user, "voice.tag_comments"),
        "tag_form": TagManyForm(),
    }, status=200 if page is not None else 400)


def _row(user, comment, words=()):
    return {"comment": comment, "text": service.highlighted(comment.text, words),
            "themes": list(comment.themes.all()), "may_tag": permissions.can(user, "voice.tag_comments", comment),
            "event_visible": service.event_link_visible(user, comment)}


@requires("voice.tag_comments")
@require_POST
def tag_many(request):
    form = TagManyForm(request.POST)
    back = request.POST.get("back", "")
    target = reverse("voice:comments") + ("?" + back if back and "\n" not in back else "")
    if not form.is_valid():
        messages.error(request, "Tick the comments and choose a theme.")
        return redirect(target)
    clean = form.cleaned_data
    try:
        count = service.add_themes_to(request.user, [c.pk for c in clean["comments"]],
                                      add=[clean["add"].pk] if clean.get("add") else [],
                                      remove=[clean["remove"].pk] if clean.get("remove") else [])
    except ValidationError as problem:
        messages.error(request, " ".join(problem.messages))
        return redirect(target)
    messages.success(request, f"{count} comment{'s' if count != 1 else ''} tagged.")
    return redirect(target)


@requires("voice.view_comments")
@require_http_methods(["GET", "POST"])
def comment(request, pk):
    the_comment = service.access_comment(request.user, pk)
    form = ThemesForm(comment=the_comment)
    status = 200
    if request.method == "POST":
        form, saved = _save_themes(request, the_comment)
        if saved:
            messages.success(request, "Themes saved.")
            return redirect("voice:comment", pk=the_comment.pk)
        status = 400
    return render(request, "voice/comment_detail.html", {
        "row": _row(request.user, the_comment), "form": form, "history": history.history_of(the_comment),
        "may_raise": permissions.can(request.user, "safety.report"),
    }, status=status)


def _save_themes(request, the_comment):
    permissions.check(request.user, "voice.tag_comments", the_comment)
    form = ThemesForm(request.POST, comment=the_comment)
    if form.is_valid():
        try:
            service.set_comment_themes(request.user, the_comment, [t.pk for t in form.cleaned_data["themes"]])
            return form, True
        except ValidationError as problem:
            add_errors(form, problem)
    return form, False


@requires("voice.tag_comments")
@require_http_methods(["GET", "POST"])
def comment_row(request, pk):
    """htmx: the list's row with its themes form (GET), saved and shown again (POST)."""
    the_comment = service.access_comment(request.user, pk, "voice.tag_comments")
    if request.method == "POST":
        form, saved = _save_themes(request, the_comment)
        return _row_response(request, the_comment, None if saved else form, status=200 if saved else 400)
    return _row_response(request, the_comment, ThemesForm(comment=the_comment))


def _row_response(request, the_comment, themes_form, status=200):
    # may_tag: the list's tick column, which the row keeps (the user may tag: the view's door).
    return render(request, "voice/comment_row.html", {"row": _row(request.user, the_comment), "may_tag": True,
                                                      "themes_form": themes_form}, status=status)


# --- raising a safety event -----------------------------------------------------------------------

@requires("safety.report")
@require_http_methods(["GET", "POST"])
def raise_event(request, pk):
    from andon.safety import services as safety

    the_comment = service.access_comment(request.user, pk)
    if the_comment.safety_event_id:
        messages.info(request, "A safety event was raised from this comment already.")
        return redirect("voice:comment", pk=the_comment.pk)
    tax = safety.taxonomy.current()
    if request.method == "GET":
        form = RaiseForm(tax=tax, initial={"kind": "incident", "category": "other", "harm": "unknown",
                                           "occurred_on": the_comment.month, "narrative": the_comment.text})
        return render(request, "voice/comment_raise.html", {"comment": the_comment, "form": form})
    form = RaiseForm(request.POST, tax=tax)
    if form.is_valid():
        clean = form.cleaned_data
        occurred = timezone.make_aware(datetime.combine(clean["occurred_on"], time(12)))
        report = safety.Report(kind=clean["kind"], category=clean["category"], unit_id=the_comment.unit_id,
                               occurred_at=occurred, narrative=clean["narrative"], harm=(clean.get("harm") or "") if clean["kind"] in safety.KINDS_WITH_HARM else "",
                               person_affected="patient", share_identity=True,
                               location_detail="Told in a patient survey comment")
        try:
            event = service.raise_safety_event(request.user, the_comment, report)
        except ValidationError as problem:
            add_errors(form, _report_errors(problem))
        else:
            messages.success(request, f"Safety event {event.reference} raised from the comment.")
            if permissions.can(request.user, "safety.view_event", event):
                return redirect("safety:event", pk=event.pk)
            return redirect("voice:comment", pk=the_comment.pk)
    return render(request, "voice/comment_raise.html", {"comment": the_comment, "form": form}, status=400)


def _report_errors(problem: ValidationError) -> ValidationError:
    """The safety report's problems on this form's fields; those about fields this form does not
    ask (a category's own questions) are said in the form's own error."""
    if not hasattr(problem, "error_dict"):
        return problem
    known = set(RaiseForm.base_fields) | {"__all__"}
    errors = {field: messages_ for field, messages_ in problem.message_dict.items() if field in known}
    others = [f"{field}: {' '.join(text)}" for field, text in problem.message_dict.items() if field not in known]
    if "occurred_at" in problem.message_dict:
        errors["occurred_on"] = problem.message_dict["occurred_at"]
    if others:
        errors.setdefault("__all__", []).extend(
            others + ["This category asks questions of its own: choose 'Other' here, or report it on the safety "
                      "report form."])
    return ValidationError(errors)


# --- themes ----------------------------------------------------------------------------------------

@requires("voice.manage_themes")
@require_http_methods(["GET", "POST"])
def themes(request):
    form, status = ThemeForm(), 200
    if request.method == "POST":
        form = ThemeForm(request.POST)
        if form.is_valid():
            try:
                theme = service.create_theme(request.user, form.cleaned_data["label"], form.cleaned_data["description"])
            except ValidationError as problem:
                add_errors(form, problem)
            else:
                messages.success(request, f"Theme {theme.label} added.")
                return redirect("voice:comment_themes")
        status = 400
    counted = CommentTheme.objects.annotate(tagged=Count("comments")).order_by("-active", "label")
    return render(request, "voice/comment_themes.html", {"themes": counted, "form": form}, status=status)


@requires("voice.manage_themes")
@require_http_methods(["GET", "POST"])
def theme(request, pk):
    the_theme = service.access_theme(request.user, pk)
    form, status = ThemeForm(initial={"label": the_theme.label, "description": the_theme.description,
                                      "active": the_theme.active}), 200
    if request.method == "POST":
        form = ThemeForm(request.POST)
        if form.is_valid():
            clean = form.cleaned_data
            try:
                service.update_theme(request.user, the_theme, label=clean["label"],
                                     description=clean["description"], active=clean["active"])
            except ValidationError as problem:
                add_errors(form, problem)
            else:
                messages.success(request, "Theme saved.")
                return redirect("voice:comment_themes")
        status = 400
    return render(request, "voice/comment_theme.html", {"theme": the_theme, "form": form,
                                                        "history": history.history_of(the_theme)}, status=status)


# --- a unit's themes ------------------------------------------------------------------------------

class UnitForm(SearchForm):
    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        for name in ("q", "theme", "untagged", "question"):
            del self.fields[name]


@requires("voice.view_comments")
def unit_themes(request):
    form = UnitForm(request.GET or None, user=request.user)
    if form.is_bound and not form.is_valid():
        return render(request, "voice/comment_units.html", {"form": form}, status=400)
    clean = form.cleaned_data if form.is_bound else {}
    unit, month_from, month_to = clean.get("unit"), clean.get("month_from"), clean.get("month_to")
    counts, total = service.theme_counts(request.user, unit, month_from, month_to)
    where = unit.name if unit else "your units"
    chart = charts.bar_chart([(theme.label, tagged) for theme, tagged in counts],
                             title=f"Comments by theme, {where}",
                             desc=", ".join(f"{theme.label} {tagged}" for theme, tagged in counts) or "No comments.",
                             y_label="Comments") if counts else None
    return render(request, "voice/comment_units.html", {
        "form": form, "counts": counts, "total": total, "chart": chart, "unit": unit,
        "search_query": form.data.urlencode() if form.is_bound else "",
    })


urlpatterns = [
    path("voice/comments/", comments, name="comments"),
    path("voice/comments/tag/", tag_many, name="comments_tag"),
    path("voice/comments/themes/", themes, name="comment_themes"),
    path("voice/comments/themes/<int:pk>/", theme, name="comment_theme"),
    path("voice/comments/units/", unit_themes, name="comment_units"),
    path("voice/comments/<int:pk>/", comment, name="comment"),
    path("voice/comments/<int:pk>/row/", comment_row, name="comment_row"),
    path("voice/comments/<int:pk>/raise/", raise_event, name="comment_raise"),
]
