"""QI projects: charter, driver diagram, PDSA cycles on the measure's chart, and the portfolio.
(Services; pages in views/projects.py.)"""

from andon.platform import audit


def connect() -> None:
    """Registries of the projects (audit, history, navigation, work), from ready()."""
    from . import models

    for model in (models.Project, models.PdsaCycle, models.PortfolioSettings):
        audit.register(model, exclude_fields=["version"])
    for model in (models.Driver, models.ProjectsRequired):
        audit.register(model)
