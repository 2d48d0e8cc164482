from django.urls import path

from . import views

app_name = "actions"

urlpatterns = [
    path("actions/", views.action_list, name="list"),
    path("actions/new/", views.action_new, name="new"),
    path("actions/<int:pk>/", views.action_detail, name="detail"),
    path("actions/<int:pk>/edit/", views.action_edit, name="edit"),
    path("actions/<int:pk>/status/", views.action_status, name="status"),
    path("actions/<int:pk>/decision/", views.action_decision, name="decision"),
    path("actions/<int:pk>/effectiveness/", views.action_effectiveness, name="effectiveness"),
]
