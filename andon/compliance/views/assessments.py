"""Pages of compliance: assessments."""

urlpatterns: list = []
