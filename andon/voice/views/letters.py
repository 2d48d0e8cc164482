"""(Being written.) Pages: letters"""

urlpatterns: list = []
