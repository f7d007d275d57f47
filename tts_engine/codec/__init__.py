"""Speech codes to audio, batched over rows, in a thread of its own."""
