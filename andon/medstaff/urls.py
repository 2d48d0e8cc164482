from .views import practitioners, privileges, fppe, oppe, peer_review as peer_review_views, training

app_name = "medstaff"

# Each subject lists its own pages (views/<subject>.py); their paths start with medstaff/.
urlpatterns = [
    *practitioners.urlpatterns,
    *privileges.urlpatterns,
    *fppe.urlpatterns,
    *oppe.urlpatterns,
    *peer_review_views.urlpatterns,
    *training.urlpatterns,
]
