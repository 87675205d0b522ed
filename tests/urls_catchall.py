"""``tests.urls`` plus a catch-all page, as single-page apps have (any path is a page)."""

from django.urls import re_path

from .urls import home
from .urls import urlpatterns as base

urlpatterns = [*base, re_path(r"^.*$", home)]
