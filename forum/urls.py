from django.urls import path

from . import views

app_name = "forum"
urlpatterns = [
    path("", views.index, name="index"),
    path("signup/", views.signup, name="signup"),
    path("b/<slug:slug>/", views.board, name="board"),
    path("b/<slug:slug>/new/", views.thread_create, name="thread-create"),
    path("t/<int:pk>/", views.thread, name="thread-short"),
    path("t/<int:pk>/<slug:slug>/", views.thread, name="thread"),
    path("t/<int:pk>/reply", views.reply, name="reply"),
    path("p/<int:pk>/", views.post_permalink, name="post"),
    path("p/<int:pk>/edit/", views.post_edit, name="post-edit"),
    path("p/<int:pk>/delete/", views.post_delete, name="post-delete"),
    path("react/<str:target_type>/<int:pk>/", views.react, name="react"),
    path("u/<str:username>/", views.user_page, name="user"),
    path("activity/", views.activity, name="activity"),
    path("replies/", views.notifications, name="notifications"),
]
