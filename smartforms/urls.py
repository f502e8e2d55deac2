from django.urls import path

from . import views

app_name = "smartforms"

urlpatterns = [
    path("", views.FormListView.as_view(), name="form_list"),
    path("new/", views.FormCreateView.as_view(), name="form_create"),
    path("new/json/", views.FormJsonCreateView.as_view(), name="form_create_json"),
    path("builder-preview/", views.FormBuilderPreviewView.as_view(), name="form_builder_preview"),
    path("<str:public_id>/", views.FormDetailView.as_view(), name="form_detail"),
    path("<str:public_id>/edit/", views.FormEditView.as_view(), name="form_edit"),
    path("<str:public_id>/edit/json/", views.FormJsonEditView.as_view(), name="form_edit_json"),
    path("<str:public_id>/preview/", views.FormPreviewView.as_view(), name="form_preview"),
    path("<str:public_id>/archive/", views.FormArchiveView.as_view(), name="form_archive"),
    path(
        "<str:public_id>/submissions/", views.SubmissionListView.as_view(), name="submission_list"
    ),
]
