from django.contrib import admin
from django.urls import path

from library import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("author/<int:pk>/", views.author, name="author"),
]
