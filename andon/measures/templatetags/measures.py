"""Filters for the measure pages: values as a user reads them, and lookups in label tables."""

from django import template

from andon.measures.charts import format_value

register = template.Library()


@register.filter
def measure_value(value):
    """1,234 for large values, up to two decimals for small ones, – for none."""
    return "–" if value is None or value == "" else format_value(float(value))


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
