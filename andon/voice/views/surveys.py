"""(Being written.) Pages: surveys"""

urlpatterns: list = []
