"""The customer-facing pages under ``/support/``: the contact form and the live chat.

Views parse and render; what a submission does lives in :mod:`channels_intake.portal.services` (store the
inbound event, run it through the intake pipeline) and what a chat shows in :mod:`tickets.selectors.chat`.
"""
