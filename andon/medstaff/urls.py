from .views import training

app_name = "medstaff"

# Each subject lists its own pages (views/<subject>.py); their paths start with medstaff/.
urlpatterns = [
    *training.urlpatterns,
]
