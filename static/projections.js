// "Your face": a projection job (from the camera or an uploaded photo) is followed by polling until it
// ends; a finished one is selected at once (mode "me"). The saved projections are listed to pick from,
// rename and delete (not while in use, which their tile shows), and can be the style source instead of
// the style seed. Where projection cannot run, its buttons are disabled with the server's reason.
// Uses app.js's $, sendJson, getJson, sender, currentParams and showError (called after the page loaded).
"use strict";

const JOB_POLL_MS = 500;
const JOB_FINISHED = ["done", "failed", "cancelled"];

let projections = [];       // the usable saved projections, oldest first
let trackedJob = null;      // id of the projection job this page follows

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
  const running = {
    waiting: "Getting ready…",
    start: `Finding a starting face (${job.phase_step} of ${job.phase_steps} tried)…`,
    optimise: `Step ${job.step} of ${job.num_steps}${loss}`,
  }[job.phase] || `Step ${job.step} of ${job.num_steps}${loss}`;
  const text = {
    queued: "Waiting for the projector…",
    running: job.cancel_requested ? "Cancelling…" : running,
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
  if (job.state === "running" && job.phase === "start") {
    $("project-progress").max = job.phase_steps || 1;
    $("project-progress").value = job.phase_step;
  } else {
    $("project-progress").max = job.num_steps;
    $("project-progress").value = job.state === "done" ? job.num_steps : job.step;
  }
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

let projecting = false;
let projectionReady = true;

function setProjecting(busy) {
  projecting = busy;
  showProjectionButtons();
}

// Projection cannot run here at all (the server says why, in words for whoever holds the page).
function showProjectionReady(ready, reason) {
  projectionReady = ready;
  $("project-unavailable").hidden = ready;
  $("project-unavailable").textContent = ready ? "" : reason;
  showProjectionButtons();
}

function showProjectionButtons() {
  for (const id of ["project-camera", "project-upload-button"]) {
    $(id).disabled = projecting || !projectionReady;
    if (projectionReady) $(id).removeAttribute("aria-describedby");
    else $(id).setAttribute("aria-describedby", "project-unavailable");
  }
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
    pick.querySelector(".name").textContent = projection.name;
    pick.addEventListener("click", () => sender.update({ mode: "me", projection: projection.name }));
    item.dataset.name = projection.name;
    item.querySelector(".rename").addEventListener("click", () => renameProjection(projection.name));
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
  showProjectionsInUse();
}

// The role each projection has in the params (the face shown, the style source, a face's own face), or null.
function projectionRoles(params) {
  const roles = {};
  if (!params) return roles;
  for (const [track, choice] of Object.entries(params.faces || {})) {
    if (choice.projection) roles[choice.projection] = roles[choice.projection] || `the face of face ${track}`;
  }
  if (params.style_projection) roles[params.style_projection] = "the style source";
  if (params.projection) roles[params.projection] = params.mode === "me" ? "the face shown" : "the face of mode 'me'";
  return roles;
}

function badgeText(role) {
  const face = /^the face of face (\d+)$/.exec(role);
  if (face) return `face ${face[1]}`;
  return { "the face shown": "shown", "the style source": "style", "the face of mode 'me'": "selected" }[role] || "in use";
}

// A projection in use is marked on its tile, and its delete button says why it cannot be deleted.
function showProjectionsInUse() {
  const roles = projectionRoles(currentParams);
  for (const item of document.querySelectorAll("#projections .projection")) {
    const role = roles[item.dataset.name] || null;
    const badge = item.querySelector(".in-use");
    item.classList.toggle("in-use", role !== null);
    badge.hidden = role === null;
    badge.textContent = role === null ? "" : badgeText(role);
    badge.title = role === null ? "" : `In use as ${role}`;
    const remove = item.querySelector(".delete");
    remove.setAttribute("aria-disabled", String(role !== null));
    remove.title = role === null ? "Delete this projection" : `In use as ${role}: select another one first`;
  }
}

function showSelectedProjection() {
  for (const pick of document.querySelectorAll("#projections .pick")) {
    const params = currentParams || {};
    pick.setAttribute("aria-checked", String(params.mode === "me" && pick.dataset.name === params.projection));
  }
}

function showProjectionsError(text) {
  $("projections-error").textContent = text || "";
  $("projections-error").hidden = !text;
}

async function deleteProjection(name) {
  const role = projectionRoles(currentParams)[name];
  if (role) {
    showProjectionsError(`"${name}" is ${role}: select another one first, then delete it.`);
    return;
  }
  if (!confirm(`Delete the projection "${name}"?`)) return;
  const { ok, answer } = await sendJson(`api/projections/${encodeURIComponent(name)}`, { method: "DELETE" });
  showProjectionsError(ok ? null : answer.error);
  loadProjections();
}

async function renameProjection(name) {
  const newName = prompt(`New name for "${name}" (letters, digits, - and _):`, name);
  if (newName === null || newName === name) return;
  const { ok, answer } = await sendJson(`api/projections/${encodeURIComponent(name)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: newName }),
  });
  showProjectionsError(ok ? null : answer.error);
  if (ok) await refreshParams();
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
