"""(Being written.) Pages: the grievance dashboard"""

urlpatterns: list = []
