from django.urls import path

from tenants import views

urlpatterns = [
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation-accept"),
]
