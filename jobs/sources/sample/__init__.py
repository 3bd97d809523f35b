"""Deterministic synthetic sample data: a music catalog, listener controls and raw events.

`world.generate` writes, as Parquet files made with pyarrow, everything the pipeline reads from
its sources: the catalog (artists, albums, tracks, audio features), the controls (follows, user
settings, user hides - some "don't suggest" later withdrawn -, taste-profile exclusions, platform
rules and Discovery Mode campaigns) and one folder of raw listening events per day for the
`weeks` whole weeks before the publish `week`. The same seed gives the same rows.

The listens follow a small generative model, so that collaborative filtering has real structure
to find and can beat a popularity baseline on next week's never-played-before tracks:

* Every listener has a genre taste (a Dirichlet mixture concentrated on 1-3 favourite genres)
  and a personal latent vector; every track has a latent vector close to its artist's. Picking
  a new track means picking a genre from the taste, then a track of that genre with probability
  proportional to popularity ** POPULARITY_EXPONENT * exp(LATENT_BETA * <user, track>) (in the
  other genres, by popularity alone: the hits one hears anyway).
* Most plays are replays from a personal library ("heavy rotation"), seeded before the window
  and grown every week with the discoveries the listener liked; the rest are discoveries from
  the taste or deep cuts from artists already in the library.
* Fans of an artist play its new albums in the days after release (what Release Radar needs).
* Plays come in sessions at realistic times of day; low affinity means more skips, and saves,
  playlist adds, hides and follows follow affinity too.

The platform's own rules are judged at the publish moment (00:00 UTC of `week`), and the sample
has every case on either side of it: rights, legal and policy blocks of a few popular tracks and
artists (most in force, some lifted already, some still to come) and a handful of Discovery Mode
campaigns of mid-popularity artists (most running, one over, one not started).

Everything is vectorised with numpy over blocks of listeners; events are appended, block by
block, to one Parquet file per day, so memory stays bounded whatever the size.

One module per part, each importing only the ones before it: window (time units, the data
window) <- catalog <- listeners <- events <- controls <- world (`build_world`, `generate`) <-
playlist_listens (the listeners' reactions to the published playlists, for
`weekly-playlists simulate`).
"""
