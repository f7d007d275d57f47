curl -X POST "http://localhost:8080/api/v1/tts/clone/upload" \
  -F "text=Esta es mi voz clonada" \
  -F "ref_text=Hola, esta es mi voz de referencia" \
  -F "language=Spanish" \
  -F "ref_audio=@/ruta/a/mi-voz.wav"
