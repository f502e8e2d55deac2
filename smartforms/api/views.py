"""Integrator API for smart forms: thin views over smartforms services and selectors."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import ApiError, NotFound
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pushpay.api.pagination import NewestFirstPagination
from smartforms import selectors, services
from smartforms.models import Form

from .serializers import (
    FormCreateSerializer,
    FormSerializer,
    FormUpdateSerializer,
    FormVersionSerializer,
    SubmissionSerializer,
    ValidateAnswersSerializer,
    ValidationResultSerializer,
)

TAGS = ["forms"]
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size, at most 100."),
    OpenApiParameter("cursor", str),
]
ERROR_RESPONSE = OpenApiResponse(description='{"error": {"type", "code", "message", "field"}}')


def _get_form(request: Request, public_id: str) -> Form:
    form = selectors.form_get(merchant=request.auth.merchant, public_id=public_id)
    if form is None:
        raise NotFound(f"No such form: '{public_id}'.")
    return form


def _render(request: Request, form: Form, status_code: int = 200) -> Response:
    # Re-read through the selector so the body shows exactly what was committed.
    fresh = selectors.form_get(merchant=form.merchant, public_id=form.public_id)
    return Response(FormSerializer(fresh, context={"request": request}).data, status=status_code)


class FormListCreateView(APIView):
    @extend_schema(
        tags=TAGS,
        responses=FormSerializer(many=True),
        parameters=[
            OpenApiParameter("status", str, enum=Form.Status.values),
            *PAGE_PARAMETERS,
        ],
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in Form.Status.values:
            raise ApiError(
                f"status must be one of: {', '.join(Form.Status.values)}.",
                code="invalid_filter",
                field="status",
            )
        forms = selectors.form_list(merchant=request.auth.merchant, status=wanted)
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(forms, request, view=self)
        return paginator.get_paginated_response(
            FormSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        tags=TAGS,
        request=FormCreateSerializer,
        responses={201: FormSerializer, 422: ERROR_RESPONSE},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = FormCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = services.form_create(merchant=request.auth.merchant, **serializer.validated_data)
        return _render(request, form, status.HTTP_201_CREATED)


class FormDetailView(APIView):
    @extend_schema(tags=TAGS, responses=FormSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(
            FormSerializer(_get_form(request, public_id), context={"request": request}).data
        )

    @extend_schema(
        tags=TAGS,
        request=FormUpdateSerializer,
        responses={200: FormSerializer, 409: ERROR_RESPONSE, 422: ERROR_RESPONSE},
        description=(
            "Changing `fields` rewrites the current version while it is unlocked; once a "
            "submission or a payment request uses it, the change becomes the next version."
        ),
    )
    def patch(self, request: Request, public_id: str) -> Response:
        form = _get_form(request, public_id)
        serializer = FormUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = services.form_update(form=form, **serializer.validated_data)
        return _render(request, form)


class FormArchiveView(APIView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses=FormSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        form = services.form_archive(form=_get_form(request, public_id))
        return _render(request, form)


class FormSubmissionListView(APIView):
    @extend_schema(tags=TAGS, responses=SubmissionSerializer(many=True), parameters=PAGE_PARAMETERS)
    def get(self, request: Request, public_id: str) -> Response:
        form = _get_form(request, public_id)
        submissions = selectors.submission_list(merchant=request.auth.merchant, form=form)
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(submissions, request, view=self)
        return paginator.get_paginated_response(
            SubmissionSerializer(page, many=True, context={"request": request}).data
        )


class NewestVersionFirstPagination(NewestFirstPagination):
    ordering = ("-number", "-id")


class FormVersionListView(APIView):
    pagination_class = NewestVersionFirstPagination

    @extend_schema(
        tags=TAGS,
        operation_id="forms_versions_list",
        responses=FormVersionSerializer(many=True),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request, public_id: str) -> Response:
        form = _get_form(request, public_id)
        versions = selectors.form_version_list(merchant=request.auth.merchant, form=form)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(versions, request, view=self)
        return paginator.get_paginated_response(
            FormVersionSerializer(page, many=True, context={"request": request}).data
        )


class FormVersionDetailView(APIView):
    @extend_schema(
        tags=TAGS, operation_id="forms_versions_retrieve", responses=FormVersionSerializer
    )
    def get(self, request: Request, public_id: str, number: str) -> Response:
        form = _get_form(request, public_id)
        # A str in the URL, so "v2" or "1e9" is this API's 404 rather than the router's.
        version = None
        if number.isascii() and number.isdigit() and len(number) <= 9:
            version = selectors.form_version_get(
                merchant=request.auth.merchant, form=form, number=int(number)
            )
        if version is None:
            raise NotFound(f"Form '{public_id}' has no version '{number}'.")
        return Response(FormVersionSerializer(version, context={"request": request}).data)


class FormValidateView(APIView):
    @extend_schema(
        tags=TAGS,
        request=ValidateAnswersSerializer,
        responses={200: ValidationResultSerializer, 422: ERROR_RESPONSE},
        parameters=[IDEMPOTENCY_PARAMETER],
        description=(
            "Dry run: checks answers exactly as the payer page will, and records nothing; "
            "an archived form is refused (409) as a real submission would be. "
            "Refusals name the answer at fault, e.g. field `answers.email`."
        ),
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        form = _get_form(request, public_id)
        serializer = ValidateAnswersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = form.current_version
        if "version" in data:
            version = selectors.form_version_get(
                merchant=request.auth.merchant, form=form, number=data["version"]
            )
            if version is None:
                raise NotFound(f"Form '{public_id}' has no version {data['version']}.")
        language = data.get("language") or request.auth.merchant.default_language
        cleaned = services.submission_dry_run(
            form_version=version, answers=data["answers"], language=language
        )
        return Response({"valid": True, "version": version.number, "answers": cleaned})
