"""The moderation REST API (Django REST framework): cases, evidence, decisions, appeals, queue.

Include ``moderation.api.urls`` under a prefix such as ``api/``. Every view declares its
own authentication-independent permission, throttle and pagination classes, so a host
whose ``REST_FRAMEWORK`` defaults are ``AllowAny`` still gets a closed API.
"""
