from django.urls import path

from . import views

app_name = "lab"
urlpatterns = [
    path("", views.index, name="index"),
    # Before the lessons' <slug:slug>/: no lesson may take these names.
    path("streaming-replication/", views.replication, name="replication"),
    path("glossary/", views.glossary, name="glossary"),
    path("use-it-in-your-project/", views.use_it, name="use-it"),
    path("strategy", views.switch_strategy, name="switch-strategy"),
    path("cluster/", views.cluster, name="cluster"),
    path("cluster/lag", views.cluster_lag, name="cluster-lag"),
    path("cluster/delay", views.cluster_delay, name="cluster-delay"),
    path("cluster/replay", views.cluster_replay, name="cluster-replay"),
    path("cluster/switchover", views.cluster_switchover, name="cluster-switchover"),
    path("cluster/kill-leader", views.cluster_kill, name="cluster-kill-leader"),
    path("<slug:slug>/", views.lesson, name="lesson"),
]
