"""Pages of compliance: tracers."""

urlpatterns: list = []
