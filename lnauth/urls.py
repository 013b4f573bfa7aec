from django.urls import path

from lnauth import views

# Included under accounts/ by allauth (it includes every provider's urls module).
urlpatterns = [
    path("lnurl-auth/", views.login_page, name="lnurl_auth_login"),
    path("lnurl-auth/panel/", views.panel, name="lnurl_auth_panel"),
    path("lnurl-auth/status/", views.status, name="lnurl_auth_status"),
    path("lnurl-auth/finish/", views.finish, name="lnurl_auth_finish"),
    path("lnurl-auth/callback", views.callback, name="lnurl_auth_callback"),
]
