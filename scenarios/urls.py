from django.urls import path

from . import views

app_name = "scenarios"

urlpatterns = [
    path("", views.ScenarioListView.as_view(), name="scenario_list"),
    path("build/", views.ScenarioBuilderView.as_view(), name="scenario_builder_create"),
    path("timeline/", views.ScenarioTimelineView.as_view(), name="scenario_timeline"),
    path("new/", views.ScenarioCreateView.as_view(), name="scenario_create"),
    path("<str:public_id>/", views.ScenarioDetailView.as_view(), name="scenario_detail"),
    path(
        "<str:public_id>/build/",
        views.ScenarioBuilderView.as_view(),
        name="scenario_builder_edit",
    ),
    path("<str:public_id>/edit/", views.ScenarioEditView.as_view(), name="scenario_edit"),
    path("<str:public_id>/pause/", views.ScenarioPauseView.as_view(), name="scenario_pause"),
    path("<str:public_id>/resume/", views.ScenarioResumeView.as_view(), name="scenario_resume"),
]
