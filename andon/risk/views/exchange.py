"""Risk pages: the register's export to CSV/XLSX and its import back, with a report by row, field and reason."""

urlpatterns = []
