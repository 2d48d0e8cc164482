"""Pages of compliance: policies."""

urlpatterns: list = []
