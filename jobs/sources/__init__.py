"""Where data comes from: the Spotify Web API, public datasets, a Spotify history export,
the generated sample world.
"""
