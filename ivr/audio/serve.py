"""The ``/audio`` blueprint: rendered prompts and hold audio, for Twilio's ``<Play>``.

Only ``.wav`` files under ``AUDIO_DIR`` are served (never the manifest nor the studio
sources); ``send_from_directory`` refuses paths that climb out of it with a 404, and
gives ETag, Last-Modified and conditional GET (304). Caching follows Twilio's advice: a
plain URL is ``no-cache``, so Twilio revalidates (a cheap 304) and hears a re-rendered
prompt at once; a URL carrying ``?v=<text hash>`` (``Manifest.play_url``) can never
change, so it may be cached for ``AUDIO_MAX_AGE`` seconds. No pydub here: this runs in
requests.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    request,
    send_from_directory,
)

from ivr.audio import DEFAULT_AUDIO_DIR
from ivr.audio.engine import STUDIO
from ivr.audio.manifest import LiveManifest, Manifest

bp = Blueprint("audio", __name__, url_prefix="/audio")

#: ``app.extensions`` keys: ``finder(utterance) -> file | None`` and ``hold() -> file | None``
EXTENSION = "ivr.audio"
HOLD_EXTENSION = "ivr.hold"
DEFAULT_MAX_AGE_S = 86400


def init_app(app: Flask) -> None:
    """Register the blueprint and load the manifest of ``AUDIO_DIR`` once, at start.

    The finders it installs (``LiveManifest``) name a file only when ``ivr audio check``
    would pass it, checking each file's header once per version of the file.

    Calling it again (a test pointing ``AUDIO_DIR`` elsewhere) only reloads the manifest.
    """
    app.config.setdefault("AUDIO_DIR", str(DEFAULT_AUDIO_DIR))
    app.config.setdefault("AUDIO_MAX_AGE", DEFAULT_MAX_AGE_S)
    live = LiveManifest(Path(app.config["AUDIO_DIR"]).resolve())
    app.extensions[EXTENSION] = live
    app.extensions[HOLD_EXTENSION] = live.hold_file
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)


def manifest() -> Manifest:
    """The current manifest of the app's audio dir (re-read only if the file changed)."""
    live = current_app.extensions[EXTENSION]
    assert isinstance(live, LiveManifest)
    return live.current()


@bp.get("/<path:path>")
def serve(path: str) -> Response:
    """One audio file, ``audio/wav``, revalidated by ETag or cached when versioned."""
    if not path.endswith(".wav") or posixpath.normpath(path).split("/")[0] == STUDIO:
        abort(404)
    audio_dir = Path(current_app.config.get("AUDIO_DIR") or DEFAULT_AUDIO_DIR).resolve()
    # 0 means "no-cache": revalidate every time (explicit, whatever SEND_FILE_MAX_AGE says)
    max_age = int(current_app.config.get("AUDIO_MAX_AGE", DEFAULT_MAX_AGE_S))
    return send_from_directory(audio_dir, path, mimetype="audio/wav", conditional=True,
                               etag=True, max_age=max_age if "v" in request.args else 0)
