import requests
import base64

# Custom Voice
response = requests.post(
    "http://localhost:8080/api/v1/tts/custom",
    json={
        "text": "Hello world",
        "speaker": "Ryan",
        "language": "English",
        "output_format": "ogg"
    }
)

data = response.json()
audio_bytes = base64.b64decode(data["audio_base64"])

with open("output.ogg", "wb") as f:
    f.write(audio_bytes)
