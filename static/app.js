// StyleCam page: drives the live pipeline through the JSON API and shows its live figures.
//
// Slider changes are sent while dragging, but never pile up: changes are merged into one pending
// update, at most one request is in flight, and the next one leaves SEND_INTERVAL_MS after the last,
// carrying only the newest values.
"use strict";

const SEND_INTERVAL_MS = 60;
const STATUS_INTERVAL_MS = 1000;
const STREAM_RETRY_MS = 2000;
const MAX_SEED = 4294967295;
const SOURCE_WARNINGS = {
  starting: "Opening the camera…",
  reconnecting: "Camera lost: reconnecting…",
  lost: "Camera lost: still trying to reconnect. Check the cable or the stream address.",
  ended: "The video source has ended.",
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
    let answer;
    let accepted = false;
    try {
      const response = await fetch("api/params", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      answer = await response.json();
      accepted = response.ok;
    } catch (error) {
      answer = { error: "the server did not answer: " + error.message };
    }
    this.inFlight = false;
    if (accepted) this.onApplied(answer);
    else this.onRejected(answer);
    if (Object.keys(this.pending).length > 0) this.schedule();
  }
}

const sender = new ParamsSender(
  (params) => { showError(null); showParams(params); },
  (answer) => { showError(answer); refreshParams(); },  // nothing changed on the server: show what it holds
);

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (response.status === 401) throw new Error("access token no longer valid: open the link the server printed");
  if (!response.ok) throw new Error((await response.json()).error);
  return response.json();
}

function showError(answer) {
  if (answer === null) $("error").textContent = "";
  else $("error").textContent = answer.field ? `${answer.field}: ${answer.error}` : answer.error;
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
    field.querySelector("label").htmlFor = input.id;
    field.querySelector(".slider-label").textContent = preset.label;
    field.title = preset.description || `W layers ${preset.layers}`;
    input.addEventListener("input", () => {
      showSliderValue(input);
      sender.update({ sliders: { [preset.name]: Number(input.value) } });
    });
    $("sliders").append(field);
  }
}

function showSliderValue(input) {
  input.closest(".field").querySelector("output").textContent = Number(input.value).toFixed(2);
}

// Show the params the server holds, except in the control the user is busy with.
function showParams(params) {
  if (!sender.idle) return;
  const busy = document.activeElement;
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.checked = radio.value === params.mode;
  showMode(params.mode);
  for (const id of ["seed", "style_seed", "psi"]) {
    if ($(id) !== busy) $(id).value = params[id];
  }
  $("psi-value").textContent = Number(params.psi).toFixed(2);
  for (const input of document.querySelectorAll("#sliders input")) {
    if (input !== busy && input.dataset.preset in params.sliders) {
      input.value = params.sliders[input.dataset.preset];
      showSliderValue(input);
    }
  }
}

// The face controls do nothing in camera-only mode: show them dimmed there.
function showMode(mode) {
  document.body.dataset.mode = mode;
}

function bindControls() {
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      showMode(radio.value);
      sender.update({ mode: radio.value });
    });
  }
  $("psi").addEventListener("input", () => {
    $("psi-value").textContent = Number($("psi").value).toFixed(2);
    sender.update({ psi: Number($("psi").value) });
  });
  for (const id of ["seed", "style_seed"]) {
    $(id).addEventListener("change", () => {
      if ($(id).validity.valid && $(id).value !== "") sender.update({ [id]: Number($(id).value) });
      else showError({ field: id, error: `a whole number from 0 to ${MAX_SEED}` });
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

// --- stream ----------------------------------------------------------------------------------------

function keepStreamAlive() {
  const img = $("stream");
  img.addEventListener("error", () => {
    setTimeout(() => { img.src = `stream.mjpg?retry=${Date.now()}`; }, STREAM_RETRY_MS);
  });
}

async function start() {
  // The token has done its work (the server answered with a cookie): keep it out of the address bar.
  if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);
  keepStreamAlive();
  bindControls();
  pollStatus();
  try {
    buildSliders(await getJson("api/presets"));
  } catch (error) {
    showError({ error: error.message });
  }
  refreshParams();
}

document.addEventListener("DOMContentLoaded", start);
