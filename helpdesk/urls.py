from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from helpdesk import views

admin.site.site_header = "Help desk administration"
admin.site.site_title = "Help desk"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("intake/", include("channels_intake.urls")),
    path("anymail/", include("anymail.urls")),
]
