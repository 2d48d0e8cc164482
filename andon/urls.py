from django.contrib import admin
from django.urls import include, path

from andon.api.api import api
from andon.web import views as web_views

handler403 = web_views.refused

urlpatterns = [
    path("", web_views.home, name="home"),
    path("health", web_views.health, name="health"),
    path("favicon.ico", web_views.favicon, name="favicon"),
    path("", include("andon.platform.urls")),
    path("", include("andon.safety.urls")),
    path("", include("andon.actions.urls")),
    path("", include("andon.measures.urls")),
    path("", include("andon.compliance.urls")),
    path("", include("andon.risk.urls")),
    path("", include("andon.improvement.urls")),
    path("", include("andon.medstaff.urls")),
    path("", include("andon.voice.urls")),
    path("", include("andon.governance.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
