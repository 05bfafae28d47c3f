from django.apps import AppConfig


class ChannelsIntakeConfig(AppConfig):
    name = "channels_intake"
    verbose_name = "Channels and intake"

    def ready(self):
        from channels_intake import anymail_inbound

        # ESP inbound webhooks arrive through anymail's signal and feed the raw e-mail adapter.
        anymail_inbound.connect()
