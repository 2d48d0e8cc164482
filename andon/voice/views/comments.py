"""(Being written.) Pages: comments"""

urlpatterns: list = []
