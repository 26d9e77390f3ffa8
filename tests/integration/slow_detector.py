"""A test-only detector that makes a scan slow or kills its own worker child on cue.

The worker under test is configured with this backend next to the real ones (see
``worker_settings``). It acts only on file names, so each test picks the fault it wants
by naming its upload, and every other upload is scanned normally:

* ``slow`` in the name: write a marker file holding this process id, then sleep. The
  test waits for the marker and ``kill -9``s that pid, which is a worker child killed
  mid-scan at a known moment instead of after a guessed delay.
* ``crash`` in the name: the child raises SIGSEGV on itself, as a native parser crash
  would, on every delivery: a poison message that Redis (with no delivery counter)
  would requeue forever unless the case counts its own attempts.
* ``flaky`` in the name: raise :class:`TransientDetectorError` on the first
  ``FLAKY_FAILURES`` deliveries (counted with marker files), as a detector whose
  service is restarting would; later deliveries succeed.
"""

from __future__ import annotations

import os
import resource
import signal
import time
from pathlib import Path
from typing import ClassVar

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.exceptions import InvalidDetectorConfig, TransientDetectorError


class FaultInjectingDetector(BaseDetector):
    """Sleep or crash depending on the upload's file name; otherwise find nothing."""

    name = "fault-injection"
    version = "1"
    needs_pixels = False
    default_options: ClassVar[dict[str, object]] = {"SLEEP_SECONDS": 3.0, "MARKER_DIR": "",
                                                    "FLAKY_FAILURES": 2}

    def validate(self) -> None:
        if not self.options["MARKER_DIR"]:
            raise InvalidDetectorConfig("FaultInjectingDetector needs OPTIONS['MARKER_DIR']")

    def detect(self, image: ImageInput) -> EvidenceResult:
        base = Path(image.name).name
        if "crash" in base:
            # No core file: a few hundred MB per crash would fill the CI disk.
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.kill(os.getpid(), signal.SIGSEGV)
        if "flaky" in base:
            marker_dir = Path(str(self.options["MARKER_DIR"]))
            marker_dir.mkdir(parents=True, exist_ok=True)
            seen = len(list(marker_dir.glob(f"flaky-{image.sha256}.*")))
            if seen < int(str(self.options["FLAKY_FAILURES"])):
                (marker_dir / f"flaky-{image.sha256}.{seen}").write_text(str(time.time()))
                raise TransientDetectorError("fault injection: service restarting")
        if "slow" in base:
            marker_dir = Path(str(self.options["MARKER_DIR"]))
            marker_dir.mkdir(parents=True, exist_ok=True)
            marker = marker_dir / f"{image.sha256}.{os.getpid()}"
            marker.write_text(str(os.getpid()))
            time.sleep(float(self.options["SLEEP_SECONDS"]))
        return EvidenceResult(self.alias, self.version, EvidenceLabel.NONE, Strength.WEAK)
