// Recording what this viewer sees: the stream's <img> is drawn onto a canvas 30 times a second and the
// canvas recorded with MediaRecorder into a WebM file (MP4 where WebM cannot be made), which the browser
// downloads when the recording stops. It stops by itself after MAX_RECORD_S seconds or MAX_RECORD_BYTES,
// whichever comes first; onTick(seconds, bytes) lets the page show a timer, onStop(reason) why it ended.
"use strict";

const MAX_RECORD_S = 600;
const MAX_RECORD_BYTES = 200 * 1024 * 1024;
const RECORD_FPS = 30;
const RECORD_BITS_PER_SECOND = 4000000;
const RECORD_TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4"];

class StreamRecorder {
  constructor(img, { onTick, onStop }) {
    this.img = img;
    this.onTick = onTick;
    this.onStop = onStop;
    this.recorder = null;
  }

  static type() {
    if (typeof MediaRecorder === "undefined" || !HTMLCanvasElement.prototype.captureStream) return null;
    return RECORD_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || null;
  }

  get recording() {
    return this.recorder !== null;
  }

  start() {
    const type = StreamRecorder.type();
    if (type === null) throw new Error("this browser cannot record video (no MediaRecorder)");
    const canvas = document.createElement("canvas");
    canvas.width = this.img.naturalWidth || 640;      // fixed for the whole clip, whatever the view does
    canvas.height = this.img.naturalHeight || 480;
    const context = canvas.getContext("2d");
    this.type = type;
    this.chunks = [];
    this.bytes = 0;
    this.started = performance.now();
    this.stopReason = "stopped";
    this.recorder = new MediaRecorder(canvas.captureStream(RECORD_FPS),
      { mimeType: type, videoBitsPerSecond: RECORD_BITS_PER_SECOND });
    this.recorder.ondataavailable = (event) => this.keep(event.data);
    this.recorder.onstop = () => this.save();
    this.draw = setInterval(() => drawContained(context, this.img, canvas), 1000 / RECORD_FPS);
    drawContained(context, this.img, canvas);
    this.recorder.start(1000);                         // a chunk a second: the size cap is checked as it grows
    this.clock = setInterval(() => this.tick(), 250);
    this.tick();
  }

  stop(reason = "stopped") {
    if (!this.recording || this.recorder.state === "inactive") return;
    this.stopReason = reason;
    clearInterval(this.draw);
    clearInterval(this.clock);
    this.recorder.stop();
  }

  seconds() {
    return (performance.now() - this.started) / 1000;
  }

  tick() {
    const seconds = this.seconds();
    this.onTick(seconds, this.bytes);
    if (seconds >= MAX_RECORD_S) this.stop("time");
  }

  keep(data) {
    if (!data || data.size === 0) return;
    this.chunks.push(data);
    this.bytes += data.size;
    if (this.bytes >= MAX_RECORD_BYTES) this.stop("size");
  }

  save() {
    const blob = new Blob(this.chunks, { type: this.type.split(";")[0] });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `stylecam-${timestamp()}.${this.type.startsWith("video/mp4") ? "mp4" : "webm"}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    this.recorder = null;
    this.onStop(this.stopReason, blob.size);
  }
}

// The image scaled to fit the canvas, centred, on black (the view may change size while recording).
function drawContained(context, img, canvas) {
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  if (!img.naturalWidth) return;
  const scale = Math.min(canvas.width / img.naturalWidth, canvas.height / img.naturalHeight);
  const width = img.naturalWidth * scale;
  const height = img.naturalHeight * scale;
  try {
    context.drawImage(img, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
  } catch (error) {
    // The stream is between frames (reconnecting): the black frame stands in.
  }
}

function timestamp() {
  const now = new Date();
  const two = (value) => String(value).padStart(2, "0");
  return `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}-` +
    `${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}`;
}

function clockText(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}
