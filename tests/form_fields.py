"""What a person fills in on a page, and whether each field is named by a label (issue 15,
friction 17): read by the permission matrix on every page each role may open, and by the tests of
forms that show only in a later state of their record."""

from collections import Counter
from html.parser import HTMLParser

UNLABELLED_TYPES = {"hidden", "submit", "button", "image", "reset"}
# Pages that are not HTML forms (downloads, drawings, fragments that a labelled page loads).
NOT_PAGES = {"platform:job_download", "safety:export_csv", "safety:fishbone_svg", "safety:pareto_svg",
             "measures:chart_svg", "measures:report_json", "measures:results_csv", "health", "favicon"}


class Fields(HTMLParser):
    """The fields of a page, the ids that labels point at, and every element id (an id used twice
    names only its first element: a label for it leaves the second field without one)."""

    def __init__(self):
        super().__init__()
        self.fields, self.label_for, self.ids, self.open_labels = [], set(), Counter(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids[attrs["id"]] += 1
        if tag == "label":
            self.open_labels += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and (attrs.get("type") or "").lower() not in UNLABELLED_TYPES:
            self.fields.append((tag, attrs, self.open_labels > 0))

    def handle_endtag(self, tag):
        if tag == "label" and self.open_labels:
            self.open_labels -= 1

    def unlabelled(self) -> list[str]:
        missing = []
        for tag, attrs, wrapped in self.fields:
            by_label = attrs.get("id") in self.label_for and self.ids[attrs["id"]] == 1
            named = (wrapped or by_label or (attrs.get("aria-label") or "").strip()
                     or any(part in self.ids for part in (attrs.get("aria-labelledby") or "").split()))
            if not named:
                missing.append(f"<{tag} name={attrs.get('name')!r} id={attrs.get('id')!r}>")
        return missing


def unlabelled_fields(html: str) -> list[str]:
    fields = Fields()
    fields.feed(html)
    return fields.unlabelled()
