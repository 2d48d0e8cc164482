"""The governance module's object rules (committee membership, pack status)."""


# --- packs ---
# A board member (governance.view_packs alone) reads the versions the CQO published; those who
# write the pack (governance.edit_packs) also read its drafts and approved versions.
import rules as _rules  # noqa: E402

from andon.platform.permissions import add_rule as _add_rule  # noqa: E402
from andon.platform.permissions import holds as _holds  # noqa: E402


@_rules.predicate
def _pack_version_published(user, version) -> bool:
    return version is not None and getattr(version, "status", "") == "published"


_add_rule("governance.read_pack_version",
          _holds("governance.edit_packs") | (_holds("governance.view_packs") & _pack_version_published))
