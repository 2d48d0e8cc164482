from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "andon.web"
    label = "web"
    verbose_name = "Web shell"
