from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.TemplateListView.as_view(), name="template_list"),
    path("new/", views.TemplateCreateView.as_view(), name="template_create"),
    path("preview/", views.TemplatePreviewView.as_view(), name="template_preview"),
    path(
        "install-defaults/",
        views.TemplateInstallDefaultsView.as_view(),
        name="template_install_defaults",
    ),
    path("<str:public_id>/", views.TemplateDetailView.as_view(), name="template_detail"),
    path("<str:public_id>/edit/", views.TemplateEditView.as_view(), name="template_edit"),
    path("<str:public_id>/archive/", views.TemplateArchiveView.as_view(), name="template_archive"),
    path("<str:public_id>/restore/", views.TemplateRestoreView.as_view(), name="template_restore"),
    path(
        "<str:public_id>/send-test/",
        views.TemplateSendTestView.as_view(),
        name="template_send_test",
    ),
]
