"""Moderator pages; include with ``path("moderation/", include("moderation.urls"))``."""

from __future__ import annotations

from django.urls import path

from moderation.views import accuracy, appeals, case, export, queue, reports

app_name = "moderation"
urlpatterns = [
    path("", queue.review_queue, name="queue"),
    path("bulk/", queue.bulk_action, name="bulk"),
    path("accuracy/", accuracy.accuracy_panel, name="accuracy"),
    path("case/<int:pk>/", case.case_detail, name="case"),
    path("case/<int:pk>/image/<str:variant>/", case.case_image, name="case_image"),
    path("case/<int:pk>/actions/<str:name>/", case.case_action, name="case_action"),
    path("case/<int:pk>/proof/<int:file_id>/", case.appeal_file, name="appeal_file"),
    path("case/<int:pk>/export/", export.case_export, name="case_export"),
    path("my/<int:pk>/", appeals.my_case, name="my_case"),
    path("my/work/<str:model>/<str:object_id>/", appeals.work_status, name="work_status"),
    path("my/work/<str:model>/<str:object_id>/export/", export.work_export,
         name="work_export"),

    path("report/<str:model>/<str:object_id>/", reports.report_work, name="report_work"),
    path("reports/sent/<int:pk>/", reports.report_sent, name="report_sent"),
    path("reports/mine/", reports.my_reports, name="my_reports"),
    path("case/<int:pk>/report-original/<int:report_id>/", reports.report_original,
         name="report_original"),
]
