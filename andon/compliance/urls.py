from .views import assessments, evidence, frameworks, policies, tracers

app_name = "compliance"

# Each subject lists its own pages (views/<subject>.py); their paths start with compliance/.
urlpatterns = [
    *frameworks.urlpatterns,
    *assessments.urlpatterns,
    *evidence.urlpatterns,
    *policies.urlpatterns,
    *tracers.urlpatterns,
]
