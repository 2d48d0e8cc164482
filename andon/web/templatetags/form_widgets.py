"""`{{ field|styled }}`: a bound form field rendered with Bootstrap's classes and its error state,
so library forms (allauth's) look like Andon's without copying their templates."""

from django import template

register = template.Library()

_CLASS_BY_WIDGET = {"checkbox": "form-check-input", "select": "form-select", "selectmultiple": "form-select"}


@register.filter
def styled(field):
    css = _CLASS_BY_WIDGET.get(field.widget_type, "form-control")
    if field.errors:
        css += " is-invalid"
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})
