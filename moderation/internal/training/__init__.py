"""Offline tooling for the bundled AI-image classifier.

Dataset building, training, calibration, export and evaluation live here. Only the
dataset builder and evaluation run without the ``[train]`` extras (torch,
scikit-learn...); nothing in this package is imported by the request path or the
Celery workers.
"""
