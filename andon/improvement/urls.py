from .views import audit_results

app_name = "improvement"

# Each subject lists its own pages (views/<subject>.py); their paths start with improvement/.
urlpatterns = [
    *audit_results.urlpatterns,
]
