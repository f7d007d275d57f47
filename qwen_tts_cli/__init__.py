"""`qwen-tts`: a command-line client of the Qwen3-TTS serving API. It speaks only the public HTTP API
(/api/v1) and imports nothing of the server's packages, so it can be installed anywhere httpx is."""
