from django.contrib import admin
from django.urls import include, path

from helpdesk import security, views

admin.site.site_header = "Help desk administration"
admin.site.site_title = "Help desk"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("intake/", include("channels_intake.urls")),
    # anymail's webhooks, refusing everything while ANYMAIL_WEBHOOK_SECRET is unset (helpdesk/security.py)
    path("anymail/", include(security.guarded_anymail_urls())),
    path("support/", include("channels_intake.portal.urls")),
    path("reports/", include("reporting.urls")),
    path("", include("tickets.urls")),
]
