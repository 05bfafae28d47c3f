"""The agent workspace's URLs: every module in ``tickets/views/`` with ``urlpatterns`` contributes its own,
so each page lives in one module with its routes (as ``channels_intake/views/`` does for webhooks)."""

import importlib
import pkgutil

from tickets import views

app_name = "desk"
urlpatterns = []
for _module in sorted(pkgutil.iter_modules(views.__path__), key=lambda m: m.name):
    urlpatterns += getattr(importlib.import_module(f"{views.__name__}.{_module.name}"), "urlpatterns", [])
