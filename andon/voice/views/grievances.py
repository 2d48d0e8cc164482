"""(Being written.) Pages: grievances"""

urlpatterns: list = []
