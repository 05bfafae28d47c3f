from django.urls import path

from . import views

app_name = "reporting"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<slug:table>.csv", views.export, name="export"),
    path("unique-id/", views.unique_id_report, name="unique_id_search"),
    path("unique-id/<str:unique_id>.csv", views.unique_id_csv, name="unique_id_csv"),
    path("unique-id/<str:unique_id>/", views.unique_id_report, name="unique_id"),
]
