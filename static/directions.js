// Direction sliders on the page (beside app.js, which builds every slider from api/presets and puts those
// of kind "direction" in the Directions group): their reset, and the preview sheet of one direction or a
// whole set at -range..+range (GET api/directions/<name>/preview.jpg), which the server renders when the
// live face leaves it time; the first sheet of a name can take a while, asking again is instant.
"use strict";

async function startDirections() {
  let listed;
  try {
    const answer = await fetch("api/directions", { headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    listed = await answer.json();
  } catch (error) {
    return;                 // no directions to show: the group stays hidden
  }
  if (listed.sliders.length === 0 && listed.sets.length === 0) return;
  $("directions").hidden = false;
  $("studio-directions").hidden = false;
  const select = $("direction-preview-name");
  for (const slider of listed.sliders) select.append(new Option(slider.label, slider.name));
  for (const set of listed.sets) {
    select.append(new Option(`All of ${set.name} (${set.directions.length} directions)`, set.name));
  }
  $("reset-directions").addEventListener("click", resetDirections);
  $("direction-preview-show").addEventListener("click", showDirectionPreview);
  $("direction-preview-sheet").addEventListener("load", () => {
    $("direction-preview-status").textContent = "";
    $("direction-preview-sheet").hidden = false;
  });
  $("direction-preview-sheet").addEventListener("error", () => {
    $("direction-preview-status").textContent = "The preview could not be shown.";
  });
}

function resetDirections() {
  const sliders = {};
  for (const input of document.querySelectorAll("#direction-sliders input")) {
    input.value = 0;
    showSliderValue(input);
    sliders[input.dataset.preset] = 0;
  }
  sender.update({ sliders });
}

function directionPreviewUrl() {
  const name = $("direction-preview-name").value;
  const seeds = $("direction-preview-seeds").value.trim();
  return `api/directions/${encodeURIComponent(name)}/preview.jpg${seeds ? `?seeds=${encodeURIComponent(seeds)}` : ""}`;
}

// The sheet is fetched first (an error answers JSON, shown beside the seeds), then shown from the cache:
// the server keeps every sheet it made, so the image costs no second render.
async function showDirectionPreview() {
  const image = $("direction-preview-sheet");
  const url = directionPreviewUrl();
  const status = $("direction-preview-status");
  status.textContent = "Rendering the sheet (the live face comes first)…";
  $("direction-preview-seeds").removeAttribute("aria-invalid");
  image.hidden = true;
  let answer;
  try {
    answer = await fetch(url);
  } catch (error) {
    status.textContent = `The preview could not be fetched: ${error.message}`;
    return;
  }
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    status.textContent = body.error || `The preview could not be made (HTTP ${answer.status}).`;
    if (body.field === "seeds") $("direction-preview-seeds").setAttribute("aria-invalid", "true");
    return;
  }
  image.alt = `Preview of ${$("direction-preview-name").selectedOptions[0].textContent}: each direction from `
    + "its negative end (left) to its positive end (right), one row per direction and face";
  image.src = url;
}

document.addEventListener("DOMContentLoaded", startDirections);
