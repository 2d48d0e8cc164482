"""(Being written.) Pages: committee"""

urlpatterns: list = []
