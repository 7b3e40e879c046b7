"""From frames to a session summary: the stimulus timeline, the bounded-memory accumulator,
questionnaire scoring, and `emoface analyze` (a video file through the whole path)."""
