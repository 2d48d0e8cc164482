from .views import audit_results, projects

app_name = "improvement"

# Each subject lists its own pages (views/<subject>.py); their paths start with improvement/.
urlpatterns = [
    *projects.urlpatterns,
    *audit_results.urlpatterns,
]
