// StyleCam page: drives the live pipeline through the JSON API and shows its live figures.
//
// Slider changes are sent while dragging, but never pile up: changes are merged into one pending
// update, at most one request is in flight, and the next one leaves SEND_INTERVAL_MS after the last,
// carrying only the newest values.
//
// "Your face": a projection job (from the camera or an uploaded photo) is followed by polling until
// it ends; a finished one is selected at once (mode "me"). The saved projections are listed to pick
// from, and can be the style source instead of the style seed.
"use strict";

const SEND_INTERVAL_MS = 60;
const STATUS_INTERVAL_MS = 1000;
const JOB_POLL_MS = 500;
const JOB_FINISHED = ["done", "failed", "cancelled"];
const STREAM_RETRY_MS = 2000;
const MAX_SEED = 4294967295;
const SOURCE_WARNINGS = {
  starting: "Opening the camera…",
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
let projections = [];       // the usable saved projections, oldest first
let trackedJob = null;      // id of the projection job this page follows

const sender = new ParamsSender(
  (params) => { showError(null); showParams(params); },
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
  currentParams = params;
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
  if ($("style-source") !== busy) $("style-source").value = params.style_projection || "";
  showStyleSource(params.style_projection);
  showSelectedProjection();
}

// The face controls do nothing in camera-only mode: show them dimmed there.
function showMode(mode) {
  document.body.dataset.mode = mode;
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

// --- your face: projection jobs and saved projections ----------------------------------------------

async function submitProjection(form) {
  showJobMessage("Sending…", true);
  const fromCamera = { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ source: "camera" }) };
  const { ok, answer } = await sendJson("api/project", { method: "POST", ...(form ? { body: form } : fromCamera) });
  if (ok) track(answer);
  else showJobMessage(answer.error, false);
}

function track(job) {
  trackedJob = job.id;
  showJob(job);
  pollJob(job.url);
}

async function pollJob(url) {
  let job;
  try {
    job = await getJson(url);
  } catch (error) {
    showJobMessage(error.message, false);
    return;
  }
  if (job.id !== trackedJob) return;
  showJob(job);
  if (!JOB_FINISHED.includes(job.state)) {
    setTimeout(() => pollJob(url), JOB_POLL_MS);
  } else if (job.state === "done") {
    await loadProjections();
    sender.update({ mode: "me", projection: job.projection });
  }
}

async function cancelProjection() {
  if (trackedJob === null) return;
  const response = await fetch(`api/project/${encodeURIComponent(trackedJob)}`, { method: "DELETE" });
  if (!response.ok) showJobMessage((await response.json()).error, false);
}

function jobText(job) {
  const loss = job.loss === null ? "" : ` · loss ${Number(job.loss).toFixed(3)}`;
  const text = {
    queued: "Waiting for the projector…",
    running: job.cancel_requested ? "Cancelling…" : `Step ${job.step} of ${job.num_steps}${loss}`,
    done: `Done in ${Number(job.seconds).toFixed(0)} s: your face is selected.`,
    failed: `Failed: ${job.error}`,
    cancelled: "Cancelled.",
  }[job.state];
  return job.note ? `${text} (${job.note})` : text;
}

function showJob(job) {
  const active = !JOB_FINISHED.includes(job.state);
  $("project-job").hidden = false;
  $("project-progress").hidden = false;
  $("project-progress").max = job.num_steps;
  $("project-progress").value = job.state === "done" ? job.num_steps : job.step;
  $("project-status").textContent = jobText(job);
  $("project-preview").hidden = !job.preview_url;
  if (job.preview_url) $("project-preview").src = job.preview_url;
  $("project-cancel").hidden = !active;
  setProjecting(active);
}

function showJobMessage(text, busy) {
  $("project-job").hidden = false;
  $("project-progress").hidden = true;
  $("project-preview").hidden = true;
  $("project-cancel").hidden = true;
  $("project-status").textContent = text;
  setProjecting(busy);
}

function setProjecting(busy) {
  $("project-camera").disabled = busy;
  $("project-upload-button").disabled = busy;
}

async function loadProjections() {
  try {
    projections = (await getJson("api/projections")).filter((projection) => projection.compatible);
  } catch (error) {
    showError({ error: error.message });
    return;
  }
  const template = $("projection-template");
  const items = projections.map((projection) => {
    const item = template.content.firstElementChild.cloneNode(true);
    const pick = item.querySelector(".pick");
    pick.dataset.name = projection.name;
    pick.title = `${projection.name}: from ${projection.source}, ${projection.steps} steps`;
    pick.querySelector("img").src = projection.result_url;
    pick.querySelector("span").textContent = projection.name;
    pick.addEventListener("click", () => sender.update({ mode: "me", projection: projection.name }));
    item.querySelector(".delete").addEventListener("click", () => deleteProjection(projection.name));
    return item;
  });
  $("projections").replaceChildren(...items);
  document.querySelector('input[name="mode"][value="me"]').disabled = projections.length === 0;
  const choice = currentParams ? currentParams.style_projection || "" : "";
  $("style-source").replaceChildren(new Option("Style seed", ""),
    ...projections.map((projection) => new Option(`Projection ${projection.name}`, projection.name)));
  $("style-source").value = choice;
  showSelectedProjection();
}

function showSelectedProjection() {
  for (const pick of document.querySelectorAll("#projections .pick")) {
    const params = currentParams || {};
    pick.setAttribute("aria-checked", String(params.mode === "me" && pick.dataset.name === params.projection));
  }
}

async function deleteProjection(name) {
  if (!confirm(`Delete the projection "${name}"?`)) return;
  const response = await fetch(`api/projections/${encodeURIComponent(name)}`, { method: "DELETE" });
  if (!response.ok) showError(await response.json());
  loadProjections();
}

// Follow a projection that is still running (e.g. started before this page was reloaded).
async function resumeProjection() {
  try {
    const active = (await getJson("api/project")).find((job) => !JOB_FINISHED.includes(job.state));
    if (active) track(active);
  } catch (error) {
    showError({ error: error.message });
  }
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
  await refreshParams();
  loadProjections();
  resumeProjection();
}

document.addEventListener("DOMContentLoaded", start);
