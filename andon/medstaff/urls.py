from .views import oppe

app_name = "medstaff"

# Each subject lists its own pages (views/<subject>.py); their paths start with medstaff/.
urlpatterns = [
    *oppe.urlpatterns,
]
