"""The ``MODERATION`` settings dict: defaults, lazy import strings and cache reset.

Follows DRF's ``api_settings`` and django-filter's ``conf``: read settings lazily on
first attribute access (never at import time), cache the merged values, and drop the
cache when a test changes ``settings.MODERATION``.

Every key, with its default and meaning, is listed in ``DEFAULTS`` below and in
README.md ("Settings").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Detector aliases. Each entry: BACKEND (import string), OPTIONS (dict validated by
    # the backend), MODE ("enforce" decides; "shadow" only records evidence).
    "DETECTORS": {
        "provenance": {
            "BACKEND": "moderation.detectors.provenance.ProvenanceDetector",
            "OPTIONS": {},
            "MODE": "enforce",
        },
        "classifier": {
            "BACKEND": "moderation.detectors.onnx.OnnxClassifier",
            # BUNDLE: directory holding model.onnx + model.json; None = the bundle
            # shipped inside the package if there is one, else the detector is off.
            "OPTIONS": {"BUNDLE": None, "INTRA_OP_NUM_THREADS": 1},
            "MODE": "enforce",
        },
    },
    # Skip the classifiers when a metadata reader or mark decoder already gives strong or
    # signed evidence that the work is AI-generated (their weak score cannot change the
    # verdict); the classifier's evidence then records that and why it did not run.
    "SKIP_CLASSIFIER_WHEN_PROVEN": True,
    # Import string of the policy: a subclass of ``moderation.policy.BasePolicy``, the one
    # place that decides label, route and review priority.
    "POLICY": "moderation.policy.DefaultPolicy",
    # --- image decoding limits (moderation.internal.imaging) ---
    # Formats Pillow may open; anything else is rejected as ``unsupported_format``.
    "ALLOWED_FORMATS": ["JPEG", "PNG", "WEBP", "GIF", "AVIF"],
    # Larger files are rejected as ``file_too_big`` before they are decoded.
    "MAX_UPLOAD_BYTES": 50 * 1024 * 1024,
    # Explicit pixel limit; Pillow raises at 2x and we turn its warning band into errors.
    "MAX_IMAGE_PIXELS": 64_000_000,
    # Frames an animation may have (``too_many_frames``).
    "MAX_FRAMES": 1000,
    # Budget of width*height*min(frames, 3) for animations (Zulip's rule).
    "MAX_ANIMATION_PIXELS": 90_000_000,
    # Background colour alpha is flattened onto for detectors.
    "FLATTEN_BACKGROUND": [255, 255, 255],
    # --- metadata caps (moderation.internal.provenance) ---
    # Bytes kept per metadata field.
    "METADATA_FIELD_LIMIT": 64 * 1024,
    # Bytes of metadata kept per upload, all fields together.
    "METADATA_TOTAL_LIMIT": 256 * 1024,
    # Nesting allowed in embedded JSON (ComfyUI graphs and the like).
    "JSON_MAX_DEPTH": 64,
    # Largest embedded JSON document parsed.
    "JSON_MAX_BYTES": 2 * 1024 * 1024,
    # Directory with the C2PA trust lists (PEM files + store.cfg); None = bundled copy.
    "C2PA_TRUST_DIR": None,
    # JSON file with the generator-pattern table; None = bundled copy.
    "GENERATOR_PATTERNS": None,
    # --- policy ---
    # Route for works labelled AI-assisted (e.g. generative fill on a hand-made work).
    "AI_ASSISTED_ROUTE": "main",
    # Route a case has from upload until its scan finishes.
    "PENDING_ROUTE": "held",
    # Classifier calibrated probability at or above which a work is held for review;
    # None = the threshold the model bundle recommends.
    "CLASSIFIER_REVIEW_THRESHOLD": None,
    # --- pipeline ---
    # Celery queue the scan tasks are published to.
    "QUEUE": "moderation",
    # Attempts (crashed ones included) before a case is quarantined for moderators.
    "MAX_ATTEMPTS": 3,
    # Seconds before a scan is asked to stop (SoftTimeLimitExceeded).
    "TASK_SOFT_TIME_LIMIT": 120,
    # Seconds before the worker child running a scan is killed.
    "TASK_TIME_LIMIT": 150,
    # A case still pending/running this many seconds after its last update is re-queued.
    "SWEEP_AFTER_SECONDS": 300,
    # Cases re-queued per sweep at most.
    "SWEEP_BATCH": 500,
    # A case whose scan could not be published (broker down) is re-sent by the next sweep
    # once it is this many seconds old (the outbox); the grace leaves the on-commit
    # publish of a fresh upload time to land first.
    "OUTBOX_GRACE_SECONDS": 10,
    # Retry delays grow as 2**n seconds (n = failed attempts so far), capped here. Keep
    # it below SWEEP_AFTER_SECONDS, or the sweeper re-queues cases still waiting out
    # their delay.
    "RETRY_BACKOFF_MAX": 120,
    # Transient failures (database or broker connection lost, a detector's service
    # unavailable) do not count toward MAX_ATTEMPTS; after this many the case is
    # quarantined all the same, so nothing retries forever.
    "MAX_TRANSIENT_FAILURES": 20,
    # Delete a registered object's file from storage when the object is deleted or its
    # file is replaced (once no registered object refers to it any more).
    "DELETE_REPLACED_FILES": True,
    # File the audit checkpoints (chain head hash and row count) are appended to, one
    # JSON object a line; keep it where the database's superuser cannot write (another
    # host, a write-once bucket mounted here). None = checkpoints are only logged.
    "AUDIT_CHECKPOINT_FILE": None,
    # An evidence export re-checks the audit log's hash chain from the case's first entry
    # to the head, up to this many rows; past it the bundle says the walk stopped there
    # (``manage.py moderation_verify_audit`` checks the whole log).
    "EVIDENCE_EXPORT_VERIFY_MAX_ROWS": 200_000,
    # --- moderators (moderation.actions, moderation.strikes) ---
    # What the Nth active strike does to an account: "warn" (nothing but a notice),
    # "hold" (new uploads held for review for STRIKE_HOLD_DAYS) or "suspend" (new
    # uploads hidden until a moderator lifts it). Counts past the list use the last entry.
    "STRIKE_ESCALATION": ["warn", "hold", "suspend"],
    # How long a "hold" strike holds the account's new uploads for review.
    "STRIKE_HOLD_DAYS": 30,
    # Only strikes younger than this many days count; None = they never expire.
    "STRIKE_EXPIRY_DAYS": None,
    # A claim older than this is stale: another moderator may take the case over.
    "CLAIM_TIMEOUT_SECONDS": 1800,
    # Directory for appeal proof files (never under MEDIA_ROOT's public URL);
    # None = "<MEDIA_ROOT>-private" next to MEDIA_ROOT.
    "PRIVATE_MEDIA_ROOT": None,
    # Largest appeal proof file.
    "APPEAL_MAX_FILE_BYTES": 200 * 1024 * 1024,
    # Proof files per appeal.
    "APPEAL_MAX_FILES": 10,
    # Rows per page in the review queue (HTML and API); the API never returns more.
    "QUEUE_PAGE_SIZE": 50,
    # Sender of uploader notifications (appeal decisions, strikes); None = DEFAULT_FROM_EMAIL.
    "NOTIFY_FROM_EMAIL": None,
    # Template the app's pages for uploaders and viewers (a work's status page, the feeds
    # index) extend, so they show in the host's own header and footer; it needs the
    # blocks "title", "head_extra" and "content".
    "PAGE_BASE_TEMPLATE": "moderation/base_uploader.html",
    # --- viewers and creators (moderation.feeds, moderation.optout) ---
    # Feed a viewer gets when signed out or without a saved preference: "exclude" (hide
    # AI works), "include" (show all) or "only" (AI works only).
    "VIEWER_DEFAULT_AI": "exclude",
    # "Hide AI" ("exclude") hides AI-generated and AI-assisted works; True lets
    # AI-assisted works (e.g. a generative fill on a drawing) through, with their label.
    "HIDE_AI_SHOWS_AI_ASSISTED": False,
    # Show viewers the evidence behind a label ("C2PA signed by …", "generation data in the file")
    # rather than just the label; moderators always see it.
    "SHOW_EVIDENCE_TO_VIEWERS": True,
    # Burst collapsing in feeds: works by one account within BURST_WINDOW_SECONDS of the
    # newest one of its tile join that tile ("+12 more from @x"). 0 turns it off.
    "BURST_WINDOW_SECONDS": 3600,
    # How many of a burst's works a tile shows before "+N more".
    "BURST_SHOW": 1,
    # Most AI-generated uploads one account may make per rolling 24 hours; None = no limit.
    "AI_DAILY_QUOTA": 50,
    # Largest share (0..1) of AI works on one page of a mixed feed; None = no cap.
    "AI_FEED_SHARE_CAP": None,
    # Works scanned at most to fill one collapsed feed page (bounds the query).
    "FEED_SCAN_LIMIT": 2000,
    # Seconds the first page of each feed (per preference) stays in Django's cache;
    # any verdict change or new publication drops it at once. 0 turns the cache off.
    "FEED_CACHE_SECONDS": 30,
    # The CACHES alias feed pages are kept in.
    "FEED_CACHE_ALIAS": "default",
    # Seconds a signed-in viewer's saved feed preference and whether they may review
    # stay in that cache (one entry per user, read once per request); any change Django
    # reports drops it at once. 0 reads them from the database on every request.
    "VIEWER_CACHE_SECONDS": 300,
    # Database alias FeedReplicaRouter sends feed reads to (a read replica); None = no
    # routing (feeds read where the host's routers send every read).
    "FEED_DATABASE": None,
    # --- training opt-out ---
    # Site default when neither the creator nor the work chose: True reserves AI training.
    "TRAINING_RESERVED_BY_DEFAULT": True,
    # robots.txt user agents of AI-training crawlers (name as matched in User-Agent).
    "AI_CRAWLERS": [
        "GPTBot", "ChatGPT-User", "OAI-SearchBot", "CCBot", "ClaudeBot", "Claude-Web",
        "anthropic-ai", "Google-Extended", "Applebot-Extended", "Bytespider",
        "PerplexityBot", "Meta-ExternalAgent", "FacebookBot", "Amazonbot", "cohere-ai",
        "Diffbot", "ImagesiftBot", "img2dataset", "Omgilibot", "Timpibot", "YouBot",
    ],
    # TDMRep policy URL sent as ``tdm-policy`` with reservations; None = none sent.
    "TDM_POLICY_URL": None,
    # Rules per robots.txt/ai.txt for individually reserved works when the site default
    # allows training (bounds the file).
    "ROBOTS_MAX_RULES": 5000,
    # Longest side in pixels of thumbnails and previews the app generates.
    "THUMBNAIL_SIZES": {"thumb": 320, "preview": 1280},
    # Storage prefix for generated derivatives.
    "DERIVATIVES_PREFIX": "moderation-derivatives",
    # Record AI-crawler fetches of reserved works (CrawlerHit rows).
    "LOG_CRAWLER_HITS": True,
    # CrawlerHit rows older than this many days are deleted by
    # ``manage.py moderation_prune_crawler_hits``; None keeps them forever.
    "CRAWLER_HIT_RETENTION_DAYS": 365,
    # --- site-adaptive training (moderation_train --from-site) ---
    # Folder holding the TAEF2 weights (taef2_encoder.pth, taef2_decoder.pth) from which
    # a blended bundle's site loop makes AI twins of confirmed hand-made uploads; None =
    # upsampler twins only (the adapted bundle's model card says so). --taef2 overrides it.
    "SITE_TRAINING_TAEF2_DIR": None,
    # --- fingerprints and hash banks (moderation.fingerprints) ---
    # Compute each upload's PDQ hash and match it against the banks (needs the ``match``
    # extra's pdqhash; without it nothing is hashed and a check warns).
    "FINGERPRINTS": True,
    # PDQ quality (0-100) below which a hash is kept but never matched: flat images (a
    # solid colour, a near-empty canvas) have hashes that collide with each other.
    "FINGERPRINT_MIN_QUALITY": 50,
    # Largest Hamming distance (of 256 bits) between two PDQ hashes that counts as a match.
    "FINGERPRINT_MATCH_DISTANCE": 31,
    # File the index of the banks is saved to and loaded from at start (workers then catch
    # up from the database); None = built from the database in each process.
    "FINGERPRINT_INDEX_PATH": None,
    # Below this many hashes the index is searched exhaustively; from it on it is a
    # multi-index hash (exact as well, much faster on large banks).
    "FINGERPRINT_INDEX_FLAT_MAX": 20_000,
    # None: the multi-index hash probes every bucket a match can be in (exact). 1: at most
    # one flipped bit per slice: exact to 21 bits, approximate above, about four times
    # faster at 10M hashes (the recall measured per distance is in docs/fingerprints.md).
    "FINGERPRINT_INDEX_MAX_FLIPS": None,
    # A process saves the index after this many entries came in since its last save
    # (``manage.py moderation_fingerprint_index`` saves after a rebuild).
    "FINGERPRINT_INDEX_SAVE_EVERY": 1000,
    # Works one creator may protect (upload to the protected bank).
    "FINGERPRINT_PROTECTED_MAX": 1000,
    # Bearer token a Prometheus scraper must send to /metrics; None leaves it open (restrict
    # it at the proxy instead).
    "METRICS_TOKEN": None,
    # --- similar works (moderation.similarity) ---
    # Cosine similarity of two works' classifier embeddings at or above which a new upload
    # is queued for review as too close to another account's work (never labelled).
    "SIMILARITY_THRESHOLD": 0.9,
    # Most matches from other accounts kept on a case.
    "SIMILARITY_MAX_MATCHES": 5,
    # Folder each model's embedding index is saved to and loaded from at start (workers
    # then catch up from the database); None = built from the database in each process.
    "SIMILARITY_INDEX_PATH": None,
    # A process saves a model's embedding index after this many rows came in since its
    # last save (``manage.py moderation_similarity_index`` saves after a rebuild).
    "SIMILARITY_INDEX_SAVE_EVERY": 1000,
    # Cosine similarity at or above which two uploads of one account join a variation set
    # (one tile in feeds).
    "VARIATION_SET_THRESHOLD": 0.93,
    # PDQ Hamming distance at or below which two uploads of one account join a variation
    # set, when a PDQ distance is available.
    "VARIATION_SET_PDQ_DISTANCE": 31,
    # Import string (or callable) of a PDQ loader: called with a list of case ids, it
    # returns a function (case id, case id) -> Hamming distance, or None when either case
    # has no usable PDQ hash. None = variation sets use embeddings only; the default reads
    # the fingerprint banks' hashes.
    "VARIATION_SET_PDQ_LOADER": "moderation.fingerprints.banks.pdq_distances",
    # Days of an account's uploads compared with a new one to find its variation set.
    "VARIATION_SET_WINDOW_DAYS": 7,
    # Most recent uploads of an account compared with a new one (bounds the work).
    "VARIATION_SET_RECENT": 300,
    # Size from which a variation set counts as a weak AI-flood signal that queues the
    # upload for review with a raised priority (never a label); None turns it off.
    "VARIATION_SET_FLOOD_SIZE": 10,
    # --- deepfake-risk escalation (moderation.deepfake) ---
    # P(photo) from the classifier's photographic head at or above which a work counts
    # as photographic.
    "DEEPFAKE_PHOTO_THRESHOLD": 0.5,
    # Smallest face, as a share of the picture's shorter side, that counts as a real
    # person's face (smaller detections are background figures or false alarms).
    "DEEPFAKE_MIN_FACE_SHARE": 0.08,
    # --- viewers' reports (moderation.reports) ---
    # Whether signed-out viewers may report a work (one report per browser session per
    # work); their reports weigh as a brand-new account's.
    "REPORT_ALLOW_ANONYMOUS": False,
    # Reports one account may send per hour (counted in the Django cache).
    "REPORT_RATE_PER_ACCOUNT": 10,
    # Reports one IP address may send per hour, all accounts and anonymous viewers together.
    "REPORT_RATE_PER_IP": 30,
    # Cache alias holding the report rate counters.
    "REPORT_RATE_CACHE": "default",
    # Beta prior [alpha, beta] of a reporter's precision per reason: a new reporter weighs
    # alpha / (alpha + beta); each upheld report adds 1 to alpha, each rejected one to beta.
    "REPORT_PRIOR": [1.0, 3.0],
    # Reporters whose precision for a reason falls below this are stored but weigh nothing.
    "REPORT_REPUTATION_FLOOR": 0.1,
    # Account age in days at which a report stops being discounted for a young account;
    # a new account's report weighs REPORT_NEW_ACCOUNT_FACTOR of a full one.
    "REPORT_FULL_WEIGHT_ACCOUNT_DAYS": 30,
    # Weight factor of a report from an account created today (rises linearly to 1).
    "REPORT_NEW_ACCOUNT_FACTOR": 0.1,
    # Window in seconds in which first-time reporters against one artist make a burst.
    "REPORT_BURST_WINDOW_SECONDS": 6 * 3600,
    # First-time reporters against one artist within the window that make a burst; their
    # reports then share the weight of one.
    "REPORT_BURST_MIN_REPORTERS": 5,
    # Import string of a callable(request) -> iterable of strings naming the clusters the
    # reporter belongs to (IP /24, device id...); reports on one work that share a key
    # share one weight. None: no clustering. ``moderation.reports.clusters.ip_prefix``
    # gives the IPv4 /24 or IPv6 /48.
    "REPORT_CLUSTER_KEYS": None,
    # Weighted report score that puts a work in the review queue (it stays public).
    "REPORT_REVIEW_THRESHOLD": 0.5,
    # Weighted report score that holds a public work for review (never labels it, never
    # strikes); None never holds on reports.
    "REPORT_HOLD_THRESHOLD": 1.5,
    # Largest original a "repost of my work" report may upload, in bytes.
    "REPORT_ORIGINAL_MAX_BYTES": 20 * 1024 * 1024,
}

# Keys whose value is an import string resolved on access.
IMPORT_STRINGS = frozenset({"POLICY", "VARIATION_SET_PDQ_LOADER", "REPORT_CLUSTER_KEYS"})

# Keys that no longer exist, with what replaced them.
REMOVED_SETTINGS: dict[str, str] = {}


class ModerationSettings:
    """Attribute access to ``settings.MODERATION`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._cached: dict[str, Any] = {}
        self._user: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        if self._user is None:
            self._user = dict(getattr(settings, "MODERATION", None) or {})
        return self._user

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr not in DEFAULTS:
            raise AttributeError(f"Invalid MODERATION setting: {attr!r}")
        if attr in self._cached:
            return self._cached[attr]
        value = self.user_settings.get(attr, DEFAULTS[attr])
        if attr in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cached[attr] = value
        return value

    def reload(self) -> None:
        """Forget cached values so the next access reads ``settings.MODERATION`` again."""
        self._cached.clear()
        self._user = None


moderation_settings = ModerationSettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "MODERATION":
        moderation_settings.reload()


setting_changed.connect(_reload_on_change, dispatch_uid="moderation.conf.reload")
