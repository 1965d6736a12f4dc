from django.urls import path

from . import views

app_name = "lab"
urlpatterns = [
    path("", views.index, name="index"),
    path("strategy", views.switch_strategy, name="switch-strategy"),
    path("<slug:slug>/", views.lesson, name="lesson"),
]
