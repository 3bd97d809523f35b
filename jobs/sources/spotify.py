"""A Spotify Web API client for catalog sync: spotipy for the endpoints and the token, our own
handling of what spotipy gets wrong for a batch job.

* Rate limits: spotipy's built-in retries sleep for whatever Retry-After says (an hour has
  been seen) inside one call. Here spotipy never retries; a 429 waits Retry-After only up to
  `max_retry_after_s`, then fails saying what Spotify asked for.
* 5xx answers and dropped connections are retried with exponential backoff, a bounded number
  of times, and the error names the endpoint.
* Endpoints Spotify closed to new apps in November 2024 (audio features) answer 403: that is
  "not available to this app", reported once, not an error per track.
* Secrets: the token lives in memory only (no `.cache` file shared between workers), and
  spotipy's debug log, which prints request headers with the bearer token and the client
  credentials, is held at INFO.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler

from jobs.core.config import SpotifyConfig

logger = logging.getLogger(__name__)

# spotipy logs full request headers (Authorization: Bearer …, Basic base64(id:secret)) at
# DEBUG; an Airflow worker at DEBUG would write them into task logs.
logging.getLogger("spotipy").setLevel(logging.INFO)

TRACKS_PER_REQUEST = 50
ARTISTS_PER_REQUEST = 50
ALBUMS_PER_REQUEST = 20
AUDIO_FEATURES_PER_REQUEST = 100
ALBUMS_PAGE_SIZE = 50


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"Credentials(client_id={self.client_id!r}, client_secret=<hidden>)"


class SpotifyApiError(RuntimeError):
    """Spotify answered in a way the sync cannot work around; the message says which call."""


class EndpointUnavailable(SpotifyApiError):
    """The endpoint is closed to this app (403): Spotify's Nov 2024 deprecations."""


class NotFound(SpotifyApiError):
    """Spotify does not know the id (404)."""


def _chunks(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


class SpotifyCatalog:
    """Catalog reads by id, in batches or one id per request (`SpotifyConfig.batch_requests`)."""

    def __init__(
        self,
        credentials: Credentials,
        config: SpotifyConfig,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._sleep = sleep
        # A plain session: spotipy mounts urllib3 retries on its own session otherwise.
        session = requests.Session()
        auth = spotipy.SpotifyClientCredentials(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            requests_session=session,
            requests_timeout=config.timeout_s,
            cache_handler=MemoryCacheHandler(),
        )
        auth.OAUTH_TOKEN_URL = config.token_url
        self._client = spotipy.Spotify(
            auth_manager=auth,
            requests_session=session,
            requests_timeout=config.timeout_s,
            retries=0,
            status_retries=0,
        )
        self._client.prefix = config.api_url
        self.requests_made = 0
        self.rate_limited_waits: list[float] = []

    def _call(self, endpoint: str, method: Callable[..., Any], *args, **kwargs) -> Any:
        """One API call with bounded retries; `endpoint` names it in logs and errors."""
        config = self._config
        for attempt in range(1, config.max_attempts + 1):
            self.requests_made += 1
            try:
                return method(*args, **kwargs)
            except spotipy.SpotifyException as error:
                if error.http_status == 429:
                    wait = _retry_after(error)
                    if wait > config.max_retry_after_s:
                        raise SpotifyApiError(
                            f"Spotify rate limit on {endpoint}: Retry-After is {wait:.0f} s, "
                            f"more than max_retry_after_s={config.max_retry_after_s:.0f}; "
                            "stopping without writing (the catalog keeps its last sync)"
                        ) from None
                    logger.warning(
                        "Spotify rate limit on %s: waiting %.1f s (Retry-After), attempt %d/%d",
                        endpoint,
                        wait,
                        attempt,
                        config.max_attempts,
                    )
                    self.rate_limited_waits.append(wait)
                    self._sleep(wait)
                elif error.http_status == 403:
                    raise EndpointUnavailable(
                        f"Spotify refused {endpoint} to this app (HTTP 403: {_reason(error)})"
                    ) from None
                elif error.http_status == 404:
                    raise NotFound(f"Spotify does not know the id on {endpoint}") from None
                elif error.http_status >= 500:
                    self._back_off(endpoint, attempt, f"HTTP {error.http_status}")
                else:
                    raise SpotifyApiError(
                        f"Spotify answered HTTP {error.http_status} on {endpoint}: {_reason(error)}"
                    ) from None
            except spotipy.SpotifyOauthError as error:
                raise SpotifyApiError(
                    f"Spotify refused the client credentials ({error.error}: "
                    f"{error.error_description}); check the `spotify_default` connection or "
                    "SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as error:
                self._back_off(endpoint, attempt, type(error).__name__)
        raise SpotifyApiError(
            f"Spotify kept failing on {endpoint}: {config.max_attempts} attempts, "
            "stopping without writing (the catalog keeps its last sync)"
        )

    def _back_off(self, endpoint: str, attempt: int, what: str) -> None:
        wait = self._config.backoff_s * 2 ** (attempt - 1)
        logger.warning(
            "Spotify %s on %s: retrying in %.1f s, attempt %d/%d",
            what,
            endpoint,
            wait,
            attempt,
            self._config.max_attempts,
        )
        self._sleep(wait)

    def _by_ids(
        self,
        ids: Sequence[str],
        size: int,
        batch: Callable[[list[str]], list[dict | None]],
        single: Callable[[str], dict | None],
        endpoint: str,
    ) -> Iterator[dict]:
        """Objects for `ids`; ids Spotify does not know (null in a batch, 404 alone) are
        left out, and the caller counts them."""
        if self._config.batch_requests:
            for chunk in _chunks(ids, size):
                try:
                    answer = batch(chunk)
                except EndpointUnavailable as refused:
                    raise EndpointUnavailable(
                        f"{refused}; Development-Mode apps lost the batch endpoints in Feb "
                        "2026: set batch_requests = false in the [spotify] config"
                    ) from None
                yield from (item for item in answer if item is not None)
            return
        for item_id in ids:
            try:
                yield self._call(f"GET /{endpoint}/{{id}}", single, item_id)
            except NotFound:
                continue

    def tracks(self, ids: Sequence[str]) -> Iterator[dict]:
        market = self._config.market

        def batch(chunk: list[str]) -> list[dict | None]:
            return self._call("GET /tracks", self._client.tracks, chunk, market=market)["tracks"]

        def single(track_id: str) -> dict | None:
            return self._client.track(track_id, market=market)

        return self._by_ids(ids, TRACKS_PER_REQUEST, batch, single, "tracks")

    def artists(self, ids: Sequence[str]) -> Iterator[dict]:
        def batch(chunk: list[str]) -> list[dict | None]:
            return self._call("GET /artists", self._client.artists, chunk)["artists"]

        return self._by_ids(ids, ARTISTS_PER_REQUEST, batch, self._client.artist, "artists")

    def albums(self, ids: Sequence[str]) -> Iterator[dict]:
        """Full albums, with every page of their track listing."""
        market = self._config.market

        def batch(chunk: list[str]) -> list[dict | None]:
            return self._call("GET /albums", self._client.albums, chunk, market=market)["albums"]

        def single(album_id: str) -> dict | None:
            return self._client.album(album_id, market=market)

        for album in self._by_ids(ids, ALBUMS_PER_REQUEST, batch, single, "albums"):
            album["tracks"]["items"] = list(self._pages(album["tracks"], "GET /albums/{id}/tracks"))
            yield album

    def artist_albums(self, artist_id: str) -> Iterator[dict]:
        """Every album and single of an artist (simplified objects), all pages."""
        first = self._call(
            "GET /artists/{id}/albums",
            self._client.artist_albums,
            artist_id,
            include_groups=self._config.release_groups,
            limit=ALBUMS_PAGE_SIZE,
        )
        return self._pages(first, "GET /artists/{id}/albums")

    def audio_features(self, ids: Sequence[str]) -> Iterator[dict]:
        """Raises EndpointUnavailable at once when the app may not read audio features."""
        for chunk in _chunks(ids, AUDIO_FEATURES_PER_REQUEST):
            with warnings.catch_warnings():
                # spotipy warns per call that Spotify deprecated the endpoint; we report
                # its availability once, in the sync result.
                warnings.simplefilter("ignore", DeprecationWarning)
                answer = self._call("GET /audio-features", self._client.audio_features, chunk)
            yield from (item for item in answer if item is not None)

    def _pages(self, page: dict, endpoint: str) -> Iterator[dict]:
        while True:
            yield from page["items"]
            if not page.get("next"):
                return
            page = self._call(endpoint, self._client.next, page)


def _retry_after(error: spotipy.SpotifyException) -> float:
    headers = error.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return 1.0  # a 429 without a usable Retry-After: wait a second and try again


def _reason(error: spotipy.SpotifyException) -> str:
    """Spotify's message without the request URL spotipy puts first (it can hold 100 ids)."""
    return error.msg.rsplit("\n", 1)[-1].strip()
