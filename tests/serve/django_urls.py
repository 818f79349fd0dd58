"""The URLs of the Django app of tests/serve/real_apps.py (its ROOT_URLCONF)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def hello(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"hello": "django", "path": request.path})


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"size": len(request.body)})


urlpatterns = [path("hello/", hello), path("upload/", upload)]
