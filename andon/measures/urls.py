from django.urls import path

from . import views

app_name = "measures"

urlpatterns = [
    path("measures/", views.dashboard, name="dashboard"),
    path("measures/library/", views.library, name="library"),
    path("measures/compute/", views.compute, name="compute"),
    path("measures/mappings/", views.mappings, name="mappings"),
    path("measures/m/<slug:key>/", views.measure_page, name="measure"),
    path("measures/m/<slug:key>/chart.svg", views.chart_svg, name="chart_svg"),
    path("measures/m/<slug:key>/annotate/", views.annotate, name="annotate"),
    path("measures/m/<slug:key>/report.json", views.report_json, name="report_json"),
    path("measures/m/<slug:key>/results.csv", views.results_csv, name="results_csv"),
    path("measures/m/<slug:key>/equity/", views.equity, name="equity"),
    path("measures/m/<slug:key>/units/", views.units, name="units"),
    path("measures/m/<slug:key>/compare.csv", views.compare_csv, name="compare_csv"),
    path("measures/m/<slug:key>/cases/", views.cases, name="cases"),
    path("measures/m/<slug:key>/cases.csv", views.cases_csv, name="cases_csv"),
    path("measures/m/<slug:key>/cases/why/", views.case_why, name="case_why"),
    path("measures/m/<slug:key>/counts/", views.counts, name="counts"),
    path("measures/m/<slug:key>/peers/", views.peers, name="peers"),
]
