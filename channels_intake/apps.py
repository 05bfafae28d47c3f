from django.apps import AppConfig


class ChannelsIntakeConfig(AppConfig):
    name = "channels_intake"
    verbose_name = "Channels and intake"

    def ready(self):
        from channels_intake import anymail_inbound, privacy
        from tickets.services.privacy import customer_erased

        # ESP inbound webhooks arrive through anymail's signal and feed the raw e-mail adapter.
        anymail_inbound.connect()
        # Erasing a customer blanks the raw inbound events that hold their messages.
        customer_erased.connect(
            privacy.scrub_inbound_events, dispatch_uid="channels_intake.scrub_inbound_events"
        )
