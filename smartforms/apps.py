from django.apps import AppConfig


class SmartformsConfig(AppConfig):
    name = "smartforms"
