from .views import exchange, fmea, register, risks

app_name = "risk"

# Each subject lists its own pages (views/<subject>.py); their paths start with risk/.
urlpatterns = [
    *register.urlpatterns,
    *risks.urlpatterns,
    *fmea.urlpatterns,
    *exchange.urlpatterns,
]
