"""Risk pages: FMEA and HFMEA: the register of proactive assessments by year, an assessment with its process, failure modes, causes, scoring and actions, and the FMEA settings."""

urlpatterns = []
