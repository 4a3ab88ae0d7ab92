// The model switcher: the generators StyleCam can run (downloaded registry models and the models folder's
// files, blended ones too), a switch to one of them, its progress, and then what carried over to the new
// generator and what was reset. A switch changes the face for everyone watching; the stream keeps the
// current face until the new generator has rendered. The running model is also shown among the live
// figures (app.js's status polling calls showRunningModel), so every viewer sees a switch made by another.
// Uses app.js's $, sendJson, getJson, refreshParams, and projections.js's loadProjections.
"use strict";

const MODEL_POLL_MS = 500;

let runningModel = null;      // the running generator's name, as last seen
let switchShown = null;       // the start time of the switch whose end this page has shown

function describeModel(model) {
  if (!model.usable) return `${model.name} (cannot be used: ${model.problem})`;
  const blend = model.origin && model.origin.blend;
  const from = blend ? `, blend of ${blend.base} and ${blend.other}` : "";
  return `${model.name}: ${model.resolution} px, ${model.num_ws} layers${from}`;
}

function showModelList(listing) {
  const select = $("model-choice");
  select.replaceChildren(...listing.models.map((model) => {
    const option = new Option(describeModel(model), model.name, false, model.current);
    option.disabled = !model.usable;
    option.title = model.problem || "";
    return option;
  }));
  if (!listing.models.some((model) => model.current)) {
    select.prepend(new Option(`${listing.current} (running; not in the models folder)`, listing.current, false, true));
  }
}

function showSwitch(change) {
  const loading = change && change.state === "loading";
  $("model-switch").disabled = loading;
  $("model-choice").disabled = loading;
  const lines = [];
  let message = "";
  if (loading) {
    message = `Loading ${change.model}… the stream keeps the current face until it is ready.`;
  } else if (change && change.state === "failed") {
    message = change.error;
  } else if (change) {
    message = `Now running ${change.model} (switched in ${change.seconds} s).`;
    lines.push(...change.carried.map((text) => `Kept: ${text}`), ...change.dropped);
  }
  $("model-message").textContent = message;
  $("model-message").hidden = message === "";
  $("model-message").classList.toggle("field-error", Boolean(change && change.state === "failed"));
  $("model-changes").replaceChildren(...lines.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
  $("model-changes").hidden = lines.length === 0;
}

// The listing, and the newest switch followed until it ends; once it has, the params and projections the
// new generator brought are shown (at the page's start, app.js loads them anyway). A StyleCam without a
// model switcher answers 404: the picker stays hidden.
async function loadModels(atStart = false) {
  let listing;
  try {
    const response = await fetch("api/models", { cache: "no-store" });
    if (response.status === 404) return;
    listing = await response.json();
    if (!response.ok) throw new Error(listing.error);
  } catch (error) {
    $("model-message").textContent = `The models cannot be listed: ${error.message}`;
    $("model-message").hidden = false;
    return;
  }
  $("models").hidden = false;
  runningModel = listing.current;
  showModelList(listing);
  showSwitch(listing.switch);
  const change = listing.switch;
  if (change && change.state === "loading") {
    setTimeout(loadModels, MODEL_POLL_MS);
  } else if (change && change.started !== switchShown) {
    switchShown = change.started;
    if (!atStart) {
      refreshParams();
      loadProjections();
    }
  }
}

async function switchModel() {
  const name = $("model-choice").value;
  const { ok, answer } = await sendJson("api/models/switch", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: name }),
  });
  if (!ok) {
    showSwitch(null);
    $("model-message").textContent = answer.error;
    $("model-message").hidden = false;
    $("model-message").classList.add("field-error");
    return;
  }
  showSwitch(answer.switch);
  setTimeout(loadModels, MODEL_POLL_MS);
}

// From the status polling: the running model among the figures; a switch someone else made is loaded.
function showRunningModel(model) {
  $("fig-model").textContent = model.weights;
  $("fig-model").title = `${model.weights}: ${model.resolution} px, ${model.num_ws} layers, ${model.renderer}`;
  if (runningModel !== null && model.weights !== runningModel) loadModels();
}

function startModels() {
  $("model-switch").addEventListener("click", switchModel);
  loadModels(true);
}

document.addEventListener("DOMContentLoaded", startModels);
