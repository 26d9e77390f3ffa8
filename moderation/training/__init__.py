"""Optional sub-app: build the classifier's dataset, train, evaluate, adapt and promote.

Add ``"moderation.training"`` to INSTALLED_APPS (and install the ``train`` extra for the
commands that train) to get ``moderation_build_dataset``, ``moderation_train``,
``moderation_evaluate`` and the admin's "Classifier versions" page. The request path and
the Celery workers never import this package; it reaches into the core app, never the
other way round.
"""
