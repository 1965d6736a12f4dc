from django.urls import path

from . import views

app_name = "lab"
urlpatterns = [
    path("strategy", views.switch_strategy, name="switch-strategy"),
]
