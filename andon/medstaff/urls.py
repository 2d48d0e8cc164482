from .views import practitioners

app_name = "medstaff"

# Each subject lists its own pages (views/<subject>.py); their paths start with medstaff/.
urlpatterns = [
    *practitioners.urlpatterns,
]
