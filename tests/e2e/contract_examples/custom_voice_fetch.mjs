const response = await fetch('http://localhost:8080/api/v1/tts/custom', {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({
    text: 'Hello world',
    speaker: 'Ryan',
    language: 'English',
    output_format: 'ogg'
  })
});

const data = await response.json();
const audioBytes = Buffer.from(data.audio_base64, 'base64');
fs.writeFileSync('output.ogg', audioBytes);
