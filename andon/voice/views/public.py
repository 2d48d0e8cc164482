"""(Being written.) Pages: public"""

urlpatterns: list = []
