"""The simulator's constants that several of its modules share: time units, and the models with their prices."""

from __future__ import annotations

HOUR = 3600
DAY = 86400
HORIZON = 7 * DAY

COMPLETION_PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-4o-2024-08-06": (2.50, 1.25, 10.00),
    "gpt-4o-mini-2024-07-18": (0.15, 0.075, 0.60),
    "gpt-4.1-2025-04-14": (2.00, 0.50, 8.00),
    "o3-2025-04-16": (2.00, 0.50, 8.00),
    "gpt-5-2025-08-07": (1.25, 0.125, 10.00),
}
EMBEDDING_PRICES: dict[str, float] = {"text-embedding-3-small": 0.02, "text-embedding-3-large": 0.13}
IMAGE_PRICES: dict[str, float] = {"dall-e-3": 0.04, "gpt-image-1": 0.042}  # per image
WEB_SEARCH_PRICE = 10.0 / 1000  # per call
FILE_SEARCH_PRICE = 2.5 / 1000  # per call
CODE_INTERPRETER_PRICE = 0.03  # per session
AUDIO_SPEECH_PRICE = 15.0 / 1_000_000  # per character (tts-1)
TRANSCRIPTION_PRICE = 0.006 / 60  # per second (whisper-1)
MODERATION_MODELS = ["omni-moderation-2024-09-26"]
SPEECH_MODELS = ["tts-1"]
TRANSCRIPTION_MODELS = ["whisper-1"]

BASE_MODELS = [*COMPLETION_PRICES, *EMBEDDING_PRICES, *IMAGE_PRICES, *MODERATION_MODELS, *SPEECH_MODELS,
               *TRANSCRIPTION_MODELS]
