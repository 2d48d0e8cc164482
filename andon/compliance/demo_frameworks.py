"""The demo hospital's frameworks: the shipped CMS Conditions of Participation (content/frameworks,
loaded already when the demo loads the shipped content), the hospital's own standards and their
mapping to the CoP (made up, in demo_content/)."""

from pathlib import Path

from andon.platform import demo

from . import frameworks

DEMO_CONTENT = Path(__file__).resolve().parent / "demo_content"
COP_FILE = Path(__file__).resolve().parents[2] / "content" / "frameworks" / "cms-cop-482.yaml"
OWN_STANDARDS = DEMO_CONTENT / "riverside-standards.yaml"
OWN_TO_COP = DEMO_CONTENT / "riverside-to-cop.yaml"


def load_demo_frameworks() -> None:
    """Idempotent: a version already loaded unchanged is left as it is."""
    for path in (COP_FILE, OWN_STANDARDS):
        frameworks.load_framework_text(path.read_text(encoding="utf-8"), str(path))
    frameworks.load_mappings_text(OWN_TO_COP.read_text(encoding="utf-8"), str(OWN_TO_COP))


def connect() -> None:
    demo.register_demo_loader(load_demo_frameworks)
