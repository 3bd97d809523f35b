"""A real HTTP server on 127.0.0.1 that answers like the Spotify Web API, for the catalog
sync tests: the token endpoint (client credentials), tracks / albums / artists by id in
batches and one by one, an artist's albums and an album's tracks in pages whose `next` links
point back at this server, and audio features answering 403 as they do for apps created
after November 2024. Faults are scripted per path: a number of 429s with a Retry-After, or
of 5xx answers, before the real answer.

Objects have the shape of Spotify's recorded answers (ids, uris, hrefs, external_urls, the
simplified album inside a track, the paging object), with the fields the sync reads and the
ones it must tolerate.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "test-access-token-Zq8"


def _links(kind: str, item_id: str, base: str) -> dict:
    return {
        "id": item_id,
        "type": kind,
        "uri": f"spotify:{kind}:{item_id}",
        "href": f"{base}/v1/{kind}s/{item_id}",
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{item_id}"},
    }


@dataclass
class Catalog:
    """What the fake API knows: plain dicts, turned into Spotify-shaped objects on the way
    out so that hrefs and `next` links carry the server's address."""

    artists: dict[str, dict] = field(default_factory=dict)  # id -> name, genres, ...
    albums: dict[str, dict] = field(default_factory=dict)  # id -> name, artist, date, tracks
    tracks: dict[str, dict] = field(default_factory=dict)  # id -> name, album, ms, ...
    features: dict[str, dict] = field(default_factory=dict)

    def add_artist(self, artist_id, name, genres=(), popularity=50, followers=1000):
        self.artists[artist_id] = dict(
            name=name, genres=list(genres), popularity=popularity, followers=followers
        )

    def add_album(self, album_id, name, artist_id, released, album_type="album", precision=None):
        self.albums[album_id] = dict(
            name=name,
            artist=artist_id,
            released=released,
            album_type=album_type,
            precision=precision or {4: "year", 7: "month"}.get(len(released), "day"),
            tracks=[],
        )

    def add_track(
        self, track_id, name, album_id, duration_ms=200_000, explicit=False, popularity=40
    ):
        self.tracks[track_id] = dict(
            name=name,
            album=album_id,
            duration_ms=duration_ms,
            explicit=explicit,
            popularity=popularity,
        )
        self.albums[album_id]["tracks"].append(track_id)


class FakeSpotify:
    """Start with `with FakeSpotify(catalog, client_id, secret) as api:`; `api.url` is the
    API prefix to configure, `api.token_url` the token endpoint."""

    ALBUM_TRACKS_PAGE = 2  # small, so that paging is exercised

    def __init__(self, catalog: Catalog, client_id: str, client_secret: str) -> None:
        self.catalog = catalog
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.rate_limits: dict[str, list[int]] = {}  # path prefix -> Retry-After per 429
        self.server_errors: Counter = Counter()  # path prefix -> 503s still to answer
        self.batch_endpoints = True  # False: Development Mode, batch gets answer 403
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self.url = f"{self.base}/v1/"
        self.token_url = f"{self.base}/api/token"

    def __enter__(self) -> "FakeSpotify":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self, prefix: str) -> list[str]:
        return [path for method, path in self.requests if path.startswith(prefix)]

    # ------------------------------------------------------------ Spotify-shaped objects

    def artist(self, artist_id: str) -> dict:
        artist = self.catalog.artists[artist_id]
        return {
            **_links("artist", artist_id, self.base),
            "name": artist["name"],
            "genres": artist["genres"],
            "popularity": artist["popularity"],
            "followers": {"href": None, "total": artist["followers"]},
            "images": [],
        }

    def _simple_artist(self, artist_id: str) -> dict:
        return {
            **_links("artist", artist_id, self.base),
            "name": self.catalog.artists[artist_id]["name"],
        }

    def simple_album(self, album_id: str) -> dict:
        album = self.catalog.albums[album_id]
        return {
            **_links("album", album_id, self.base),
            "album_type": album["album_type"],
            "total_tracks": len(album["tracks"]),
            "name": album["name"],
            "release_date": album["released"],
            "release_date_precision": album["precision"],
            "artists": [self._simple_artist(album["artist"])],
            "images": [],
            "album_group": album["album_type"],
        }

    def simple_track(self, track_id: str, number: int = 1) -> dict:
        track = self.catalog.tracks[track_id]
        artist = self.catalog.albums[track["album"]]["artist"]
        return {
            **_links("track", track_id, self.base),
            "name": track["name"],
            "artists": [self._simple_artist(artist)],
            "duration_ms": track["duration_ms"],
            "explicit": track["explicit"],
            "disc_number": 1,
            "track_number": number,
            "is_local": False,
            "preview_url": None,
        }

    def track(self, track_id: str) -> dict:
        track = self.catalog.tracks[track_id]
        return {
            **self.simple_track(track_id),
            "album": self.simple_album(track["album"]),
            "popularity": track["popularity"],
            "external_ids": {"isrc": f"XX{track_id[:10].upper()}"},
        }

    def _page(self, items: list, path: str, offset: int, limit: int) -> dict:
        end = offset + limit
        return {
            "href": f"{self.base}{path}?offset={offset}&limit={limit}",
            "items": items[offset:end],
            "limit": limit,
            "offset": offset,
            "total": len(items),
            "previous": None
            if offset == 0
            else f"{self.base}{path}?offset={max(offset - limit, 0)}&limit={limit}",
            "next": f"{self.base}{path}?offset={end}&limit={limit}" if end < len(items) else None,
        }

    def album(self, album_id: str) -> dict:
        tracks = [
            self.simple_track(track_id, number)
            for number, track_id in enumerate(self.catalog.albums[album_id]["tracks"], start=1)
        ]
        return {
            **self.simple_album(album_id),
            "tracks": self._page(
                tracks, f"/v1/albums/{album_id}/tracks", 0, self.ALBUM_TRACKS_PAGE
            ),
            "label": "Test Label",
            "popularity": 30,
        }

    # ------------------------------------------------------------ routing

    def answer(self, method: str, path: str, query: dict, headers) -> tuple[int, dict, dict]:
        """(status, extra headers, JSON body) for one request."""
        with self._lock:
            self.requests.append((method, path + (f"?{_encode(query)}" if query else "")))
            for prefix, waits in self.rate_limits.items():
                if path.startswith(prefix) and waits:
                    return (
                        429,
                        {"Retry-After": str(waits.pop(0))},
                        _error(429, "API rate limit exceeded"),
                    )
            for prefix in list(self.server_errors):
                if path.startswith(prefix) and self.server_errors[prefix] > 0:
                    self.server_errors[prefix] -= 1
                    return 503, {}, _error(503, "Service unavailable")
        if path == "/api/token":
            if method != "POST" or headers.get("Authorization") != f"Basic {self._basic}":
                return 400, {}, {"error": "invalid_client", "error_description": "Invalid client"}
            return 200, {}, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, _error(401, "No token provided")
        parts = path.strip("/").split("/")[1:]  # after "v1"
        ids = [item for item in query.get("ids", [""])[0].split(",") if item]
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["20"])[0])
        kind = parts[0]
        if kind == "audio-features":
            return 403, {}, _error(403, "Forbidden")
        objects = {
            "tracks": (self.catalog.tracks, self.track),
            "albums": (self.catalog.albums, self.album),
            "artists": (self.catalog.artists, self.artist),
        }
        if kind not in objects:
            return 404, {}, _error(404, "Service not found")
        known, render = objects[kind]
        if len(parts) == 1:
            if not self.batch_endpoints:
                return 403, {}, _error(403, "Forbidden")
            maximum = 20 if kind == "albums" else 50
            if len(ids) > maximum:
                return 400, {}, _error(400, "Too many ids requested")
            return 200, {}, {kind: [render(i) if i in known else None for i in ids]}
        item_id = parts[1]
        if item_id not in known:
            return 404, {}, _error(404, "Resource not found")
        if len(parts) == 2:
            return 200, {}, render(item_id)
        if kind == "artists" and parts[2] == "albums":
            groups = set(query.get("include_groups", ["album,single"])[0].split(","))
            albums = [
                self.simple_album(album_id)
                for album_id, album in sorted(self.catalog.albums.items())
                if album["artist"] == item_id and album["album_type"] in groups
            ]
            return 200, {}, self._page(albums, path, offset, limit)
        if kind == "albums" and parts[2] == "tracks":
            tracks = [
                self.simple_track(track_id, number)
                for number, track_id in enumerate(self.catalog.albums[item_id]["tracks"], start=1)
            ]
            return 200, {}, self._page(tracks, path, offset, limit)
        return 404, {}, _error(404, "Service not found")

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, extra, body = api.answer(
                    method, url.path, parse_qs(url.query), self.headers
                )
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._respond("GET")

            def do_POST(self) -> None:
                self._respond("POST")

            def log_message(self, *args) -> None:  # quiet: the test reads api.requests
                pass

        return Handler


def _error(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}


def _encode(query: dict) -> str:
    return "&".join(f"{key}={','.join(values)}" for key, values in sorted(query.items()))
