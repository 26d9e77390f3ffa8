"""Routes of the demo site's pages (namespace ``gallery``)."""

from django.urls import path

from config.gallery import views

app_name = "gallery"
urlpatterns = [
    path("", views.NewArrivalsView.as_view(), name="new_arrivals"),
    path("ai/", views.AIFeedView.as_view(), name="ai_feed"),
    path("me/", views.MyWorksView.as_view(), name="my_works"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("works/<int:pk>/", views.work_detail, name="work_detail"),
]
