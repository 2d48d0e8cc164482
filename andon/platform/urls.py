from django.urls import path

from . import schedule_views, views

app_name = "platform"

urlpatterns = [
    path("organisation/", views.organisation, name="organisation"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/download/", views.job_download, name="job_download"),
    path("schedules/", schedule_views.schedule_list, name="schedules"),
    path("schedules/<int:pk>/", schedule_views.schedule_edit, name="schedule"),
    path("schedules/<int:pk>/run/", schedule_views.schedule_run, name="schedule_run"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/export/", views.audit_export, name="audit_export"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
