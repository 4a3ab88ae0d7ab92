// The studio panel: sheets of faces (a seed grid, the style-mixing matrix, an interpolation strip) rendered
// by the server in the background. A sheet is a job: this page polls it and refreshes the sheet's image
// whenever more faces are on it, so rows appear as they render. Each face of its own on a sheet gets a
// button over it (keyboard-focusable, labelled with its seed or projection) that makes it the live face.
// The Face / Studio tabs share the place beside the video, so the video never moves.
// Uses app.js's $, sendJson, getJson and sender (called after the page loaded).
"use strict";

const STUDIO_POLL_MS = 300;
const STUDIO_FINISHED = ["done", "failed", "cancelled"];

let studioJob = null;          // id of the sheet this page follows
let studioCellsShown = -1;     // faces on the image shown

// --- tabs ----------------------------------------------------------------------------------------------

function showPanel(tab) {
  for (const other of document.querySelectorAll('.panel-tabs [role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
}

function bindTabs() {
  const tabs = [...document.querySelectorAll('.panel-tabs [role="tab"]')];
  for (const [index, tab] of tabs.entries()) {
    tab.addEventListener("click", () => showPanel(tab));
    tab.addEventListener("keydown", (event) => {        // arrow keys move between tabs (WAI-ARIA tabs)
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      showPanel(next);
      next.focus();
    });
  }
}

// --- the forms -----------------------------------------------------------------------------------------

function studioOptions(form) {
  const options = {};
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    const value = input.type === "checkbox" ? input.checked : input.value.trim();
    if (value === "" || value === false) continue;
    options[input.name] = input.type === "number" ? Number(value) : value;
  }
  if (form.dataset.kind === "grid" && "seeds" in options) delete options.random;   // seeds, else random ones
  return options;
}

function clearStudioErrors(form) {
  for (const element of form.querySelectorAll(".field-error")) {
    element.hidden = true;
    element.textContent = "";
  }
  for (const input of form.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute("aria-invalid");
}

// The server's error beside the field it names, else under the form's button.
function showStudioError(form, answer) {
  const kind = form.dataset.kind;
  const fieldError = answer.field ? $(`studio-${kind}-${answer.field}-error`) : null;
  const element = fieldError || $(`studio-${kind}-error`);
  element.textContent = fieldError || !answer.field ? answer.error : `${answer.field}: ${answer.error}`;
  element.hidden = false;
  const input = answer.field ? $(`studio-${kind}-${answer.field}`) : null;
  if (input) input.setAttribute("aria-invalid", "true");
}

async function submitSheet(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearStudioErrors(form);
  const { ok, answer } = await sendJson(`api/studio/${form.dataset.kind}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(studioOptions(form)),
  });
  if (!ok) {
    showStudioError(form, answer);
    return;
  }
  studioJob = answer.id;
  studioCellsShown = -1;
  showSheetJob(answer);
  pollSheet(answer.url);
}

// --- the job and its sheet -------------------------------------------------------------------------------

async function pollSheet(url) {
  let job;
  try {
    job = await getJson(url);
  } catch (error) {
    $("studio-status").textContent = error.message;
    return;
  }
  if (job.id !== studioJob) return;
  showSheetJob(job);
  if (!STUDIO_FINISHED.includes(job.state)) setTimeout(() => pollSheet(url), STUDIO_POLL_MS);
}

function sheetText(job) {
  return {
    queued: "Waiting…",
    running: job.cancel_requested ? "Stopping…" : `Rendering: row ${job.rows_done} of ${job.rows_total} done`,
    done: `Done in ${Number(job.seconds).toFixed(1)} s: click a face to make it the live face.`,
    failed: `Failed: ${job.error}`,
    cancelled: "Stopped (a newer sheet, or Cancel).",
  }[job.state];
}

function showSheetJob(job) {
  $("studio-job").hidden = false;
  $("studio-progress").max = job.cells_total;
  $("studio-progress").value = job.cells_done;
  $("studio-status").textContent = sheetText(job);
  $("studio-cancel").hidden = STUDIO_FINISHED.includes(job.state);
  $("studio-open").href = job.image_url;
  $("studio-animation").hidden = !job.animation_url;
  if (job.animation_url) $("studio-animation").href = job.animation_url;
  if (job.cells_done !== studioCellsShown) {
    studioCellsShown = job.cells_done;
    showSheetImage(job);
  }
}

// The next image is loaded before it replaces the shown one, so the sheet never flashes empty.
function showSheetImage(job) {
  const next = new Image();
  next.onload = () => {
    if (job.id !== studioJob) return;
    $("studio-sheet").src = next.src;
    showCells(job);
  };
  next.src = job.image_url;
}

// A button over each face of its own, placed in percentages of the sheet (it scales with the image).
function showCells(job) {
  const box = $("studio-cells");
  box.replaceChildren();
  const sheet = job.sheet;
  for (const cell of job.cells) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sheet-cell";
    button.dataset.seed = cell.seed ?? "";
    button.dataset.projection = cell.projection ?? "";
    button.setAttribute("aria-label", `${cell.label}: make it the live face`);
    button.title = cell.label;
    button.style.left = `${(100 * (sheet.left + cell.column * sheet.cell)) / sheet.width}%`;
    button.style.top = `${(100 * (sheet.top + cell.row * sheet.pitch)) / sheet.height}%`;
    button.style.width = `${(100 * sheet.cell) / sheet.width}%`;
    button.style.height = `${(100 * sheet.cell) / sheet.height}%`;
    button.addEventListener("click", () => pickSheetFace(cell));
    box.append(button);
  }
}

function pickSheetFace(cell) {
  if (cell.seed !== undefined) sender.update({ mode: "seed", seed: cell.seed });
  else sender.update({ mode: "me", projection: cell.projection });
  $("studio-status").textContent = `${cell.label} is the live face.`;
}

async function cancelSheet() {
  if (studioJob === null) return;
  const { ok, answer } = await sendJson(`api/studio/jobs/${encodeURIComponent(studioJob)}`, { method: "DELETE" });
  if (!ok) $("studio-status").textContent = answer.error;
}

// One tool's form at a time: the sheet shows under it, not below all three.
function showTool(kind) {
  for (const form of document.querySelectorAll(".studio-tool")) form.hidden = form.dataset.kind !== kind;
}

function startStudio() {
  bindTabs();
  for (const radio of document.querySelectorAll('input[name="studio-tool"]')) {
    radio.addEventListener("change", () => showTool(radio.value));
  }
  for (const form of document.querySelectorAll(".studio-tool")) form.addEventListener("submit", submitSheet);
  $("studio-cancel").addEventListener("click", cancelSheet);
}

document.addEventListener("DOMContentLoaded", startStudio);
