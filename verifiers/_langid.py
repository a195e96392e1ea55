"""Response-language identification for the ``language`` instruction, through langdetect (a port of
Google's language-detection; its n-gram profiles ship inside the wheel, so it works offline).

We hold our own ``DetectorFactory`` with a fixed seed instead of touching the library's global one:
langdetect samples n-grams at random, and an unseeded detector can change its mind between runs.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _factory() -> Any:
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def known_languages() -> list[str]:
    return sorted(_factory().get_lang_list())


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language ('en', 'fr', 'zh-cn', ...), or None when it has no letters."""
    # markdown, numbers and placeholders carry no language signal and skew short texts
    cleaned = re.sub(r"[\[\]<>*#_`|0-9]+", " ", text)
    if not re.search(r"[^\W\d_]", cleaned):
        return None
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:  # building a detector reads shared profile tables
        detector = _factory().create()
    detector.append(cleaned)
    try:
        return detector.detect()
    except LangDetectException:
        return None
