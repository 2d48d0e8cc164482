from .views import committees, meetings, packs

app_name = "governance"

# Each subject lists its own pages (views/<subject>.py); their paths start with governance/.
urlpatterns = [
    *committees.urlpatterns,
    *meetings.urlpatterns,
    *packs.urlpatterns,
]
