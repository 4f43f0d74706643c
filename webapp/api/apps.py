from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "webapp.api"
    label = "api"
    verbose_name = "Runware-compatible API"

    def ready(self):
        # The jobs side sends results out after each change of a job; the API knows their shape.
        from webapp.api.protocol.webhooks import deliver_webhook
        from webapp.jobs import outbound

        outbound.register_sender(deliver_webhook)
