from .views import audit_entry, audit_results, audit_tools, projects

app_name = "improvement"

# Each subject lists its own pages (views/<subject>.py); their paths start with improvement/.
urlpatterns = [
    *projects.urlpatterns,
    *audit_tools.urlpatterns,
    *audit_entry.urlpatterns,
    *audit_results.urlpatterns,
]
