from django.contrib import admin
from django.urls import include, path

from lab.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("forum.api")),
    path("lab/", include("lab.urls")),
    path("", include("django.contrib.auth.urls")),
    path("", include("forum.urls")),
]
handler404 = "forum.views.not_found"
