curl -X POST "http://localhost:8080/api/v1/tts/custom" \
  -H "Content-Type: application/json" \
  -d '{
    "text": "Hello world",
    "speaker": "Ryan",
    "language": "English",
    "output_format": "ogg"
  }'
