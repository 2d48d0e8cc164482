"""Pages of compliance: evidence."""

urlpatterns: list = []
