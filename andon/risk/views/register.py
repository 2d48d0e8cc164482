"""Risk pages: the register's list, the heat map (page and PDF), the board assurance framework and the matrix settings."""

urlpatterns = []
