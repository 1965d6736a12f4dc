"""The URLconf of lesson 16's run (lab.atomic_requests_settings): its views, and the
site's, whose names the forum's templates link to."""

from django.urls import include, path

from .lessons.atomic_requests import lock, show, thread_outside, visit

urlpatterns = [
    path("lab-atomic-requests/outside/t/<int:pk>/<slug:slug>/", thread_outside),
    path("lab-atomic-requests/visit/<str:name>", visit),
    path("lab-atomic-requests/lock/<str:name>", lock),
    path("lab-atomic-requests/show/<str:name>", show),
    path("", include("config.urls")),
]
