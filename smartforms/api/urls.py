from django.urls import path

from . import views

urlpatterns = [
    path("forms", views.FormListCreateView.as_view(), name="form-list"),
    path("forms/<str:public_id>", views.FormDetailView.as_view(), name="form-detail"),
    path("forms/<str:public_id>/archive", views.FormArchiveView.as_view(), name="form-archive"),
    path(
        "forms/<str:public_id>/submissions",
        views.FormSubmissionListView.as_view(),
        name="form-submission-list",
    ),
    path(
        "forms/<str:public_id>/versions",
        views.FormVersionListView.as_view(),
        name="form-version-list",
    ),
    path(
        "forms/<str:public_id>/versions/<str:number>",
        views.FormVersionDetailView.as_view(),
        name="form-version-detail",
    ),
    path("forms/<str:public_id>/validate", views.FormValidateView.as_view(), name="form-validate"),
]
