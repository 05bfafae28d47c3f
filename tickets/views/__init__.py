"""The agent workspace (server-rendered, HTMX). One module per page; each has its ``urlpatterns``.

Views are thin: they parse the request, ask ``tickets.permissions`` and call a service or selector, and
turn a ``HelpdeskError`` into a clear message. ``tickets.views.base`` holds what every page shares.
"""
