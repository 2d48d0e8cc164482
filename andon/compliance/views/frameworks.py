"""Pages of compliance: frameworks."""

urlpatterns: list = []
