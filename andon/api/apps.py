from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "andon.api"
    label = "andon_api"
    verbose_name = "REST API"
