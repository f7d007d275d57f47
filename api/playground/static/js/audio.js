// Audio in the page: responses' base64 audio into a player and a download link, microphone
// recordings (MediaRecorder), and 16-bit PCM chunks played as they arrive (streaming).

const TYPES = { wav: "audio/wav", mp3: "audio/mpeg", ogg: "audio/ogg", opus: "audio/ogg" };
const urls = new WeakMap();

export function base64ToBlob(base64, format) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], { type: TYPES[format] || "application/octet-stream" });
}

/** Show `blob` in `audio` (and offer it as `filename` in `link`), freeing the previous one. */
export function showAudio(audio, blob, link = null, filename = "speech") {
  const previous = urls.get(audio);
  if (previous) URL.revokeObjectURL(previous);
  const url = URL.createObjectURL(blob);
  urls.set(audio, url);
  audio.src = url;
  audio.hidden = false;
  if (link) {
    link.href = url;
    link.download = filename;
    link.textContent = `Download ${filename}`;
    link.hidden = false;
  }
}

/** The file as a data: URI (what job request_data's ref_audio_base64 accepts). */
export function dataUri(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** A microphone recording: start() asks for the microphone, stop() resolves to a File. */
export class Recorder {
  async start() {
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      throw new Error("This browser cannot record audio here (a secure origin, https or localhost, is needed)");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"].find((t) =>
      MediaRecorder.isTypeSupported(t),
    );
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type } : {});
    this.chunks = [];
    this.recorder.ondataavailable = (event) => event.data.size && this.chunks.push(event.data);
    this.recorder.start();
  }

  stop() {
    return new Promise((resolve) => {
      this.recorder.onstop = () => {
        this.stream.getTracks().forEach((track) => track.stop());
        const type = this.recorder.mimeType || "audio/webm";
        const extension = type.includes("ogg") ? "ogg" : "webm";
        resolve(new File(this.chunks, `recording.${extension}`, { type: type.split(";")[0] }));
      };
      this.recorder.stop();
    });
  }
}

/** Plays mono 16-bit little-endian PCM chunks as they arrive, one after the other without gaps;
 * wav() is the whole of it as a WAV file once the stream has ended. */
export class PcmPlayer {
  constructor(sampleRate = 24000) {
    this.rate = sampleRate;
    this.context = new AudioContext({ sampleRate });
    this.next = 0;
    this.parts = [];
  }

  push(base64) {
    const binary = atob(base64);
    const samples = new Int16Array(binary.length >> 1);
    for (let i = 0; i < samples.length; i += 1) {
      samples[i] = binary.charCodeAt(2 * i) | (binary.charCodeAt(2 * i + 1) << 8);
    }
    this.parts.push(samples);
    const buffer = this.context.createBuffer(1, samples.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i += 1) channel[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    this.next = Math.max(this.next, this.context.currentTime + 0.05);
    source.start(this.next);
    this.next += buffer.duration;
  }

  wav() {
    const length = this.parts.reduce((sum, part) => sum + part.length, 0);
    const view = new DataView(new ArrayBuffer(44 + 2 * length));
    const text = (offset, value) => [...value].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
    text(0, "RIFF");
    view.setUint32(4, 36 + 2 * length, true);
    text(8, "WAVEfmt ");
    view.setUint32(16, 16, true);
    view.setUint16(20, 1, true);
    view.setUint16(22, 1, true);
    view.setUint32(24, this.rate, true);
    view.setUint32(28, 2 * this.rate, true);
    view.setUint16(32, 2, true);
    view.setUint16(34, 16, true);
    text(36, "data");
    view.setUint32(40, 2 * length, true);
    let offset = 44;
    for (const part of this.parts) {
      for (const sample of part) {
        view.setInt16(offset, sample, true);
        offset += 2;
      }
    }
    return new Blob([view], { type: "audio/wav" });
  }
}
