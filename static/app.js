// StyleCam page: drives the live pipeline through the JSON API and shows its live figures.
//
// Slider changes are sent while dragging, but never pile up: changes are merged into one pending
// update, at most one request is in flight, and the next one leaves SEND_INTERVAL_MS after the last,
// carrying only the newest values.
//
// Beside it: projections.js (making projections, the saved ones), faces.js (a face of its own for each
// face in view), recorder.js (recording what this viewer sees), directions.js (the direction sliders'
// reset and preview sheet), models.js (switching the generator), studio.js (the studio view).
//
// What the face looks like is shared by everyone watching (the page says how many); what this viewer
// looks at is not: the view (stylized, camera, before | after), fullscreen and recording are this page's.
"use strict";

const SEND_INTERVAL_MS = 60;
const STATUS_INTERVAL_MS = 1000;
const STREAM_RETRY_MS = 2000;
const MAX_SEED = 4294967295;
const VIEW_KEY = "stylecam-view";    // localStorage: the view this browser chose
const VIEWS = ["stylized", "camera", "side"];
const SEED_FIELDS = ["seed", "style_seed"];
const SOURCE_WARNINGS = {
  starting: "Opening the camera…",
  not_found: "No camera found: is it plugged in, and not in use by another program? Still looking…",
  reconnecting: "Camera lost: reconnecting…",
  lost: "Camera lost: still trying to reconnect. Check the cable or the stream address.",
  ended: "The video source has ended.",
  stopped: "StyleCam is shutting down.",
};

const $ = (id) => document.getElementById(id);

class ParamsSender {
  constructor(onApplied, onRejected) {
    this.onApplied = onApplied;
    this.onRejected = onRejected;
    this.pending = {};
    this.timer = null;
    this.inFlight = false;
  }

  get idle() {
    return !this.inFlight && this.timer === null && Object.keys(this.pending).length === 0;
  }

  // Merge a partial update; slider values merge by preset name, so the newest value of each wins.
  update(changes) {
    for (const [field, value] of Object.entries(changes)) {
      this.pending[field] = field === "sliders" ? { ...this.pending.sliders, ...value } : value;
    }
    this.schedule();
  }

  schedule() {
    if (this.timer === null && !this.inFlight) {
      this.timer = setTimeout(() => this.send(), SEND_INTERVAL_MS);
    }
  }

  async send() {
    this.timer = null;
    const body = this.pending;
    this.pending = {};
    this.inFlight = true;
    const { ok, answer } = await sendJson("api/params", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    this.inFlight = false;
    if (ok) this.onApplied(answer);
    else this.onRejected(answer);
    if (Object.keys(this.pending).length > 0) this.schedule();
  }
}

let currentParams = null;   // what the server holds, as last seen
let view = "stylized";      // what this viewer watches
let recorder = null;        // StreamRecorder, once made
let faceChoices = null;     // FaceChoices, once made
let trackedFaces = { frame_size: null, faces: [] };

const sender = new ParamsSender(
  (params) => { showError(null); clearFieldErrors(); showParams(params); },
  (answer) => { showError(answer); refreshParams(); },  // nothing changed on the server: show what it holds
);

// Send a request whose answer is JSON either way: {ok, answer}. When the server cannot be reached (or
// answers no JSON, as the web server itself does for a body over its limit), ok is false and answer
// says so in the API's own error shape.
async function sendJson(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    return { ok: false, answer: { error: "the server did not answer: " + error.message } };
  }
  if (response.status === 204) return { ok: response.ok, answer: {} };     // no content, by design
  try {
    return { ok: response.ok, answer: await response.json() };
  } catch (error) {
    return { ok: false, answer: { error: `the server answered ${response.status} ${response.statusText}` } };
  }
}

function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1);
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (response.status === 401) throw new Error("access token no longer valid: open the link the server printed");
  if (!response.ok) throw new Error((await response.json()).error);
  return response.json();
}

// An error next to the field it is about (restored to the value the server holds), else at the bottom.
function showError(answer) {
  if (answer === null) {
    $("error").textContent = "";
  } else if (answer.field && $(`${answer.field}-error`)) {
    showFieldError(answer.field, answer.error);
  } else {
    $("error").textContent = answer.field ? `${answer.field}: ${answer.error}` : answer.error;
  }
}

function showFieldError(field, message) {
  const element = $(`${field}-error`);
  element.textContent = message;
  element.hidden = false;
  const input = $(field === "style_projection" ? "style-source" : field);
  input.setAttribute("aria-invalid", "true");
  if (currentParams && field in currentParams) {
    input.value = field === "style_projection" ? currentParams[field] || "" : currentParams[field];
  }
}

function clearFieldErrors() {
  for (const element of document.querySelectorAll(".controls .field-error")) {
    element.hidden = true;
    element.textContent = "";
  }
  for (const input of document.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute("aria-invalid");
}

async function refreshParams() {
  try {
    showParams(await getJson("api/params"));
  } catch (error) {
    showError({ error: error.message });
  }
}

function randomSeed() {
  return Math.floor(Math.random() * (MAX_SEED + 1));
}

// --- controls --------------------------------------------------------------------------------------

function buildSliders(presets) {
  const template = $("slider-template");
  for (const preset of presets) {
    const field = template.content.firstElementChild.cloneNode(true);
    const input = field.querySelector("input");
    input.id = `slider-${preset.name}`;
    input.dataset.preset = preset.name;
    input.value = 0;
    if (preset.kind === "direction") input.min = -1;     // -range..+range steps; 0, the middle, is no change
    field.querySelector("label").htmlFor = input.id;
    field.querySelector(".slider-label").textContent = preset.label;
    field.title = preset.description || `W layers ${preset.layers}`;
    input.addEventListener("input", () => {
      showSliderValue(input);
      sender.update({ sliders: { [preset.name]: Number(input.value) } });
    });
    $(preset.kind === "direction" ? "direction-sliders" : "sliders").append(field);
  }
  $("reset-edits").addEventListener("click", () => {
    const sliders = {};
    for (const input of document.querySelectorAll("#sliders input")) {
      input.value = 0;
      showSliderValue(input);
      sliders[input.dataset.preset] = 0;
    }
    sender.update({ sliders });
  });
}

function showSliderValue(input) {
  input.closest(".field").querySelector("output").textContent = Number(input.value).toFixed(2);
}

// Show the params the server holds, except in the control the user is busy with.
function showParams(params) {
  currentParams = params;
  if (!sender.idle) return;
  const busy = document.activeElement;
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.checked = radio.value === params.mode;
  showMode(params.mode);
  for (const id of ["seed", "style_seed", "psi", "keep_mouth", "keep_eyes"]) {
    if ($(id) !== busy) $(id).value = params[id];
  }
  $("psi-value").textContent = Number(params.psi).toFixed(2);
  for (const id of ["keep_mouth", "keep_eyes"]) showSliderValue($(id));
  for (const input of document.querySelectorAll("#sliders input, #direction-sliders input")) {
    if (input !== busy && input.dataset.preset in params.sliders) {
      input.value = params.sliders[input.dataset.preset];
      showSliderValue(input);
    }
  }
  if ($("style-source") !== busy) $("style-source").value = params.style_projection || "";
  showStyleSource(params.style_projection);
  showSelectedProjection();
  showProjectionsInUse();
  if (faceChoices) faceChoices.show(trackedFaces, params, projections);
}

// The face controls do nothing in passthrough mode (set through the API): dimmed, and the page says so.
function showMode(mode) {
  document.body.dataset.mode = mode;
  $("mode-note").hidden = mode !== "passthrough";
}

// The style seed does nothing while a projection is the style source: dimmed too.
function showStyleSource(projection) {
  document.body.dataset.styleSource = projection ? "projection" : "seed";
}

function bindControls() {
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      showMode(radio.value);
      const changes = { mode: radio.value };
      const selected = currentParams && currentParams.projection;
      if (radio.value === "me" && !selected && projections.length > 0) {
        changes.projection = projections[projections.length - 1].name;   // the newest
      }
      sender.update(changes);
    });
  }
  $("style-source").addEventListener("change", () => {
    showStyleSource($("style-source").value);
    sender.update({ style_projection: $("style-source").value || null });
  });
  for (const id of ["keep_mouth", "keep_eyes"]) {
    $(id).addEventListener("input", () => {
      showSliderValue($(id));
      sender.update({ [id]: Number($(id).value) });
    });
  }
  $("project-camera").addEventListener("click", () => submitProjection(null));
  $("project-upload-button").addEventListener("click", () => $("project-upload").click());
  $("project-upload").addEventListener("change", () => {
    const file = $("project-upload").files[0];
    if (!file) return;
    const maxBytes = Number($("project-upload").dataset.maxBytes);
    if (file.size > maxBytes) {     // the server would refuse it unread, with no JSON to show
      $("project-upload").value = "";
      showJobMessage(`This photo is ${megabytes(file.size)} MB; at most ${megabytes(maxBytes)} MB can be sent.`, false);
      return;
    }
    const form = new FormData();
    form.append("image", file);
    $("project-upload").value = "";
    submitProjection(form);
  });
  $("project-cancel").addEventListener("click", cancelProjection);
  $("psi").addEventListener("input", () => {
    $("psi-value").textContent = Number($("psi").value).toFixed(2);
    sender.update({ psi: Number($("psi").value) });
  });
  for (const id of SEED_FIELDS) {
    $(id).addEventListener("change", () => {
      if ($(id).validity.valid && $(id).value !== "") {
        sender.update({ [id]: Number($(id).value) });
      } else {
        showFieldError(id, `${$(id).value || "An empty field"} is not a seed: give a whole number from 0 to ` +
          `${MAX_SEED}. The face keeps its seed.`);
      }
    });
  }
  for (const [button, id] of [["seed-random", "seed"], ["style-seed-random", "style_seed"]]) {
    $(button).addEventListener("click", () => {
      $(id).value = randomSeed();
      sender.update({ [id]: Number($(id).value) });
    });
  }
  $("controls").addEventListener("submit", (event) => event.preventDefault());
}

// --- live figures ----------------------------------------------------------------------------------

function figure(value, digits) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function showStatus(status) {
  const state = status.source.state;
  $("source-state").textContent = state;
  $("source-state").dataset.state = state;
  $("fig-camera-fps").textContent = figure(status.camera_fps, 1);
  $("fig-stream-fps").textContent = figure(status.stream_fps, 1);
  $("fig-detection-ms").textContent = figure(status.detection_ms, 1);
  $("fig-generation-ms").textContent = figure(status.generation_ms, 0);
  $("fig-faces").textContent = figure(status.faces, 0);
  $("fig-device").textContent = status.device;
  const problems = [SOURCE_WARNINGS[state], status.source.error, ...status.errors];
  showWarning(problems.filter(Boolean).join(" "));
  showWatchers(status.viewers);
  if ("projection_ready" in status) showProjectionReady(status.projection_ready, status.projection_unavailable);
  if (status.model) showRunningModel(status.model);
  if (status.faces > 0 || trackedFaces.faces.length > 0) refreshFaces();
}

// Everyone watching shares the edits; the page says how many that is.
function showWatchers(count) {
  const people = count === 1 ? "1 person watching (you)" : `${count} people watching`;
  $("shared-note").textContent = `${people}; edits here apply to everyone. Your view, fullscreen and ` +
    "recording are yours alone.";
}

async function refreshFaces() {
  try {
    trackedFaces = await getJson("api/faces");
  } catch (error) {
    return;
  }
  if (currentParams) faceChoices.show(trackedFaces, currentParams, projections);
}

function showWarning(text) {
  $("warning").textContent = text;
  $("warning").hidden = text === "";
}

async function pollStatus() {
  try {
    showStatus(await getJson("api/status"));
  } catch (error) {
    $("source-state").textContent = "offline";
    $("source-state").dataset.state = "lost";
    showWarning(`No answer from StyleCam (${error.message}).`);
  } finally {
    setTimeout(pollStatus, STATUS_INTERVAL_MS);
  }
}

// --- stream: this viewer's view, fullscreen, recording ---------------------------------------------

function keepStreamAlive() {
  const img = $("stream");
  img.addEventListener("error", () => {
    setTimeout(() => { img.src = `stream.mjpg?view=${view}&retry=${Date.now()}`; }, STREAM_RETRY_MS);
  });
}

function showView(chosen) {
  view = VIEWS.includes(chosen) ? chosen : "stylized";
  for (const radio of document.querySelectorAll('input[name="view"]')) radio.checked = radio.value === view;
  const img = $("stream");
  img.dataset.view = view;
  const wanted = view === "stylized" ? "stream.mjpg" : `stream.mjpg?view=${view}`;
  if (img.getAttribute("src") !== wanted && !img.src.endsWith(`/${wanted}`)) img.src = wanted;
  $("snapshot").href = `snapshot.jpg?view=${view}`;
  $("snapshot").download = `stylecam-${view}.jpg`;
}

function bindViewer() {
  showView(localStorage.getItem(VIEW_KEY) || "stylized");
  for (const radio of document.querySelectorAll('input[name="view"]')) {
    radio.addEventListener("change", () => {
      localStorage.setItem(VIEW_KEY, radio.value);
      showView(radio.value);
    });
  }
  $("fullscreen").addEventListener("click", toggleFullscreen);
  document.addEventListener("fullscreenchange", () => {
    $("fullscreen").textContent = document.fullscreenElement ? "Exit fullscreen" : "Fullscreen";
  });
  if (StreamRecorder.type() === null) {
    $("record").disabled = true;
    $("record").title = "This browser cannot record video";
  }
  $("record").addEventListener("click", toggleRecording);
  $("stream").addEventListener("click", (event) => {
    const point = framePoint($("stream"), event, trackedFaces.frame_size, view === "side");
    if (view !== "camera" && point) faceChoices.pickAt(point.x, point.y);
  });
  faceChoices = new FaceChoices({
    fieldset: $("faces"), list: $("face-list"), template: $("face-template"),
    choose: (track, choice) => sender.update({ faces: { [track]: choice } }),
  });
}

async function toggleFullscreen() {
  try {
    if (document.fullscreenElement) await document.exitFullscreen();
    else await $("stage").requestFullscreen();
  } catch (error) {
    showRecordMessage(`Fullscreen is not available here (${error.message}).`);
  }
}

function toggleRecording() {
  if (recorder === null) {
    recorder = new StreamRecorder($("stream"), {
      onTick: (seconds) => { $("recording").textContent = `REC ${clockText(seconds)}`; },
      onStop: (reason, bytes) => {
        $("recording").hidden = true;
        $("record").textContent = "Record";
        $("record").setAttribute("aria-pressed", "false");
        const why = { time: " (the longest a clip may be)", size: " (the largest a clip may be)" }[reason] || "";
        showRecordMessage(`Saved a clip of ${(bytes / 1048576).toFixed(1)} MB${why}.`);
      },
    });
  }
  if (recorder.recording) {
    recorder.stop();
    return;
  }
  try {
    recorder.start();
  } catch (error) {
    showRecordMessage(error.message);
    return;
  }
  showRecordMessage(null);
  $("recording").hidden = false;
  $("record").textContent = "Stop recording";
  $("record").setAttribute("aria-pressed", "true");
}

function showRecordMessage(text) {
  $("record-message").textContent = text || "";
  $("record-message").hidden = !text;
}

async function start() {
  // The token has done its work (the server answered with a cookie): keep it out of the address bar.
  if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);
  bindViewer();
  keepStreamAlive();
  bindControls();
  pollStatus();
  try {
    buildSliders(await getJson("api/presets"));
  } catch (error) {
    showError({ error: error.message });
  }
  await refreshParams();
  loadProjections();
  resumeProjection();
}

document.addEventListener("DOMContentLoaded", start);
