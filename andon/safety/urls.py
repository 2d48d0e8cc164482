from django.urls import path

from .views import analysis, rca, report, triage

app_name = "safety"

urlpatterns = [
    # Reporting (every member of staff) and the reporter's side.
    path("safety/report/", report.report, name="report"),
    path("safety/report/fields/", report.category_fields, name="category_fields"),
    path("safety/report/draft/", report.save_draft, name="save_draft"),
    path("safety/report/draft/<int:pk>/delete/", report.delete_draft, name="delete_draft"),
    path("safety/my-reports/", report.my_reports, name="my_reports"),
    path("safety/my-reports/<int:pk>/", report.my_report, name="my_report"),
    path("safety/report/anonymous/", report.public_report, name="public_report"),
    path("safety/report/anonymous/fields/", report.public_category_fields, name="public_category_fields"),
    path("safety/receipt/", report.receipt, name="receipt"),
    path("safety/conduct/", report.conduct_concern, name="conduct_concern"),
    # Patient safety officers, managers, leaders.
    path("safety/triage/", triage.triage_queue, name="triage_queue"),
    path("safety/events/", triage.event_list, name="event_list"),
    path("safety/events/<int:pk>/", triage.event, name="event"),
    path("safety/events/<int:pk>/triage/", triage.triage_event, name="triage_event"),
    path("safety/events/<int:pk>/move/", triage.move_event, name="move_event"),
    path("safety/events/<int:pk>/deescalate/", triage.deescalate_event, name="deescalate_event"),
    path("safety/events/<int:pk>/review/findings/", triage.record_review_findings, name="record_review_findings"),
    path("safety/events/<int:pk>/review/waive/", triage.waive_review, name="waive_review"),
    path("safety/events/<int:pk>/ask/", triage.ask_reporter, name="ask_reporter"),
    path("safety/events/<int:pk>/pses/remove/", triage.remove_from_pses, name="remove_from_pses"),
    path("safety/events/<int:pk>/attachments/<int:attachment_pk>/", triage.attachment, name="attachment"),
    path("safety/feedback/", triage.feedback_stats, name="feedback_stats"),
    path("safety/conduct/concerns/", triage.conduct_concerns, name="conduct_concerns"),
    # Root cause analysis.
    path("safety/events/<int:pk>/rca/", rca.investigation, name="investigation"),
    path("safety/events/<int:pk>/rca/start/", rca.start, name="start_investigation"),
    path("safety/events/<int:pk>/rca/add/<str:part>/", rca.add, name="add_to_investigation"),
    path("safety/events/<int:pk>/rca/edit/<str:part>/<int:item>/", rca.edit, name="edit_in_investigation"),
    path("safety/events/<int:pk>/rca/remove/<str:part>/<int:item>/", rca.remove, name="remove_from_investigation"),
    path("safety/events/<int:pk>/rca/people/", rca.people, name="investigation_people"),
    path("safety/events/<int:pk>/rca/complete/", rca.complete, name="complete_investigation"),
    path("safety/events/<int:pk>/rca/sign/", rca.sign, name="sign_investigation"),
    path("safety/events/<int:pk>/rca/approve/", rca.approve, name="approve_investigation"),
    path("safety/events/<int:pk>/rca/report.pdf", rca.report_pdf, name="investigation_pdf"),
    path("safety/events/<int:pk>/rca/fishbone.svg", rca.fishbone_svg, name="fishbone_svg"),
    # Analysis, export and import of historical events.
    path("safety/analysis/", analysis.analysis, name="analysis"),
    path("safety/analysis/pareto/<str:dimension>.svg", analysis.pareto_svg, name="pareto_svg"),
    path("safety/export.csv", analysis.export_csv, name="export_csv"),
    path("safety/import/", analysis.import_events, name="import_events"),
]
