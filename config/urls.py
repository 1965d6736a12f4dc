from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from lab.views import healthz
from routers.prometheus import metrics_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("forum.api")),
    path("lab/", include("lab.urls")),
    path("", include("django.contrib.auth.urls")),
    path("", include("forum.urls")),
]
if settings.DEBUG:
    urlpatterns.append(path("__debug__/", include("debug_toolbar.urls")))
handler404 = "forum.views.not_found"
