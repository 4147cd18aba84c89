"""live: audio-reactive BigGAN visualizer (real-time window and offline mp4 export)."""

__version__ = "0.1.0"
