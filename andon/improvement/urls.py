from .views import audit_entry, audit_tools

app_name = "improvement"

# Each subject lists its own pages (views/<subject>.py); their paths start with improvement/.
urlpatterns = [
    *audit_tools.urlpatterns,
    *audit_entry.urlpatterns,
]
