"""Add the training reservation to every response the app's views did not handle.

Place after ``AuthenticationMiddleware``. Pages rendered with the ``training_optout_meta``
tag (or that called :func:`moderation.optout.headers.mark`) get the reservation of the
works they show; any other response gets the site default. Image responses from
:mod:`moderation.optout.views` set their own headers and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from moderation.optout import crawlers, headers


class TrainingOptOutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if headers.already_applied(response):
            return response
        headers.apply_headers(response, headers.request_reserved(request))
        crawler = crawlers.request_crawler(request)
        if crawler and response.status_code < 400:
            reserved = [obj for obj, r in headers.marked(request) if r.reserved]
            if reserved:
                crawlers.log_hits(request, crawler, reserved)
        return response
