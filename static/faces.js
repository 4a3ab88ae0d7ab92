// Faces of their own: with several people in view, each tracked face (by its track id, GET /api/faces)
// can be given a face of its own (a random seed's, or a saved projection) instead of everyone's, from the
// list or by clicking the face in the video; it keeps it while it stays tracked. The choice is a params
// update ({"faces": {"3": {"seed": 42}}}), shared like every other edit.
"use strict";

class FaceChoices {
  constructor({ fieldset, list, template, choose }) {
    this.fieldset = fieldset;
    this.list = list;
    this.template = template;
    this.choose = choose;              // (trackId, choice or null) => send the update
    this.faces = [];
    this.frameSize = null;
    this.rows = new Map();             // track id -> row element
  }

  // Show the faces of the newest detection, with the choices the params hold and the projections there are.
  show(tracked, params, projections) {
    this.faces = tracked.faces;
    this.frameSize = tracked.frame_size;
    this.fieldset.hidden = this.faces.length === 0;
    const ids = new Set(this.faces.map((face) => face.id));
    for (const [id, row] of this.rows) {
      if (!ids.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    this.faces.forEach((face, index) => {
      const row = this.rows.get(face.id) || this.addRow(face.id);
      row.querySelector(".face-name").textContent = `Face ${index + 1} (${sideOf(face, this.frameSize)})`;
      const select = row.querySelector("select");
      if (document.activeElement !== select) fillOptions(select, params.faces[String(face.id)] || null, projections);
    });
    const order = this.faces.map((face) => this.rows.get(face.id));
    this.list.replaceChildren(...order);
  }

  addRow(id) {
    const row = this.template.content.firstElementChild.cloneNode(true);
    row.dataset.track = String(id);
    const select = row.querySelector("select");
    select.dataset.track = String(id);
    select.addEventListener("change", () => this.choose(id, choiceOf(select.value)));
    this.rows.set(id, row);
    return row;
  }

  // The face at a point of the frame (frame pixels), if any: its row is marked and its choice focused.
  pickAt(x, y) {
    const face = this.faces.find(({ box: [left, top, width, height] }) =>
      x >= left && x <= left + width && y >= top && y <= top + height);
    if (!face) return false;
    for (const row of this.rows.values()) row.classList.toggle("picked", row === this.rows.get(face.id));
    const select = this.rows.get(face.id).querySelector("select");
    select.focus();
    select.scrollIntoView({ block: "nearest" });
    return true;
  }
}

function fillOptions(select, choice, projections) {
  const options = [new Option("Everyone's face", ""), new Option("A random face", "seed")];
  if (choice && choice.seed !== undefined) options.push(new Option(`Seed ${choice.seed}`, `seed:${choice.seed}`));
  for (const projection of projections) {
    options.push(new Option(`Projection ${projection.name}`, `projection:${projection.name}`));
  }
  select.replaceChildren(...options);
  if (!choice) select.value = "";
  else if (choice.seed !== undefined) select.value = `seed:${choice.seed}`;
  else select.value = `projection:${choice.projection}`;
}

function choiceOf(value) {
  if (value === "") return null;
  if (value === "seed") return { seed: randomSeed() };
  if (value.startsWith("seed:")) return { seed: Number(value.slice(5)) };
  return { projection: value.slice("projection:".length) };
}

function sideOf(face, frameSize) {
  if (!frameSize) return "in view";
  const centre = (face.box[0] + face.box[2] / 2) / frameSize[0];
  return centre < 0.4 ? "left" : centre > 0.6 ? "right" : "middle";
}

// Where a click on the stream <img> lands in the frame, in frame pixels (the image is letterboxed by
// object-fit: contain; in the side-by-side view both halves show the same frame).
function framePoint(img, event, frameSize, sideBySide) {
  const rect = img.getBoundingClientRect();
  if (!img.naturalWidth || !frameSize) return null;
  const scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
  const x = (event.clientX - rect.left - (rect.width - img.naturalWidth * scale) / 2) / scale;
  const y = (event.clientY - rect.top - (rect.height - img.naturalHeight * scale) / 2) / scale;
  return { x: sideBySide ? x % frameSize[0] : x, y };
}
