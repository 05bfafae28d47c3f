"""The customer-facing pages, mounted at ``/support/`` (helpdesk/urls.py)."""

from django.urls import path

from channels_intake.portal import feedback, views

app_name = "support"
urlpatterns = [
    path("contact/", views.contact, name="contact"),
    path("contact/thanks/", views.contact_thanks, name="contact_thanks"),
    path("chat/", views.chat, name="chat"),
    path("chat/start/", views.chat_start, name="chat_start"),
    path("chat/send/", views.chat_send, name="chat_send"),
    path("chat/messages/", views.chat_messages, name="chat_messages"),
    path("chat/end/", views.chat_end, name="chat_end"),
    # Signed links sent to customers (tickets.services.links).
    path("status/<str:token>/", feedback.ticket_status, name="ticket_status"),
    path("verify/<str:token>/", feedback.verify, name="verify"),
    path("survey/<str:token>/", feedback.survey, name="survey"),
]
