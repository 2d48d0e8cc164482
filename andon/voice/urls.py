from .views import comments, committee, dashboard, grievances, letters, public, surveys

app_name = "voice"

# Each subject lists its own pages (views/<subject>.py); their paths start with voice/ (the public
# complaint form's with complaints/).
urlpatterns = [
    *surveys.urlpatterns,
    *comments.urlpatterns,
    *grievances.urlpatterns,
    *public.urlpatterns,
    *letters.urlpatterns,
    *committee.urlpatterns,
    *dashboard.urlpatterns,
]
