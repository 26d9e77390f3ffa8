"""Deepfake-risk escalation: an AI-made photographic picture of a real person's face on
a work its host flags adult goes to the top of the review queue, hidden until reviewed.

Four signals, each shown on the case page (:func:`.signals.deepfake_signals`):

* AI, from any source: the uploader's declaration, provenance, or the classifier's
  review threshold (the policy's decision says which);
* photographic: the classifier's photographic-vs-drawn head (``photo_probability`` in
  its evidence) at or above ``DEEPFAKE_PHOTO_THRESHOLD``;
* a human face: OpenCV's frontal-face Haar cascade (:mod:`moderation.internal.faces`),
  run by :class:`.detector.FaceDetector` on the upload's one decode, for works whose
  host flags them adult (the only ones the escalation concerns);
* the host's adult flag: the registry's ``adult_field``.

Only all four together escalate; any three are an ordinary case.
"""
