"""Intake URLs: every module in ``channels_intake/views/`` with ``urlpatterns`` contributes its own."""

import importlib
import pkgutil

from channels_intake import views

app_name = "intake"
urlpatterns = []
for _module in pkgutil.iter_modules(views.__path__):
    urlpatterns += getattr(importlib.import_module(f"{views.__name__}.{_module.name}"), "urlpatterns", [])
