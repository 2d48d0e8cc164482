from .views import fppe, privileges

app_name = "medstaff"

# Each subject lists its own pages (views/<subject>.py); their paths start with medstaff/.
urlpatterns = [
    *privileges.urlpatterns,
    *fppe.urlpatterns,
]
