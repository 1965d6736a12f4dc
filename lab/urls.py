from django.urls import path

from . import views

app_name = "lab"
urlpatterns = [
    path("", views.index, name="index"),
    path("strategy", views.switch_strategy, name="switch-strategy"),
    path("cluster/", views.cluster, name="cluster"),
    path("cluster/delay", views.cluster_delay, name="cluster-delay"),
    path("cluster/replay", views.cluster_replay, name="cluster-replay"),
    path("<slug:slug>/", views.lesson, name="lesson"),
]
