"use strict";
// Attachments waiting to be sent with the next question.
// Pictures and PDFs to send with the next question: by the Attach button, by pasting and by
// dropping; checked here first (kind, count, size; the service checks again and its words are
// shown), each shown before sending and removable. The transcript keeps only a small thumbnail.
const ATTACH_MAX = 16;
const ATTACH_BYTES = 4 * 1024 * 1024;
const ATTACH_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf"];
const attachList = document.getElementById("attachments");
const fileInput = document.getElementById("files");
let pending = [];
document.getElementById("attach").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => { addFiles([...fileInput.files]); fileInput.value = ""; });
prompt.addEventListener("paste", (event) => {
  const files = [...((event.clipboardData && event.clipboardData.files) || [])];
  if (files.length) { event.preventDefault(); addFiles(files); }
});
form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("dropping"); });
form.addEventListener("dragleave", () => form.classList.remove("dropping"));
form.addEventListener("drop", (event) => {
  event.preventDefault();
  form.classList.remove("dropping");
  addFiles([...((event.dataTransfer && event.dataTransfer.files) || [])]);
});

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
/** A JPEG at most 96 px across, for the transcript and the kept chats (never the original). */
function thumbnail(dataUrl) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => {
      const scale = Math.min(1, 96 / Math.max(image.width, image.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(image.width * scale));
      canvas.height = Math.max(1, Math.round(image.height * scale));
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      resolve(canvas.toDataURL("image/jpeg", 0.7));
    };
    image.onerror = () => resolve(null);
    image.src = dataUrl;
  });
}
async function addFiles(files) {
  for (const file of files) {
    const name = file.name || "pasted picture";
    if (!ATTACH_TYPES.includes(file.type)) { addError(`${name} is not a picture (PNG, JPEG, WebP, GIF) or a PDF.`); continue; }
    if (pending.length >= ATTACH_MAX) { addError(`At most ${ATTACH_MAX} attachments go with one question.`); break; }
    if (pending.reduce((sum, a) => sum + a.size, file.size) > ATTACH_BYTES) {
      addError(`${name} is too large: a question's attachments take at most 4 MB together.`);
      continue;
    }
    const dataUrl = await readAsDataUrl(file);
    const thumb = file.type.startsWith("image/") ? await thumbnail(dataUrl) : null;
    pending.push({ name, type: file.type, size: file.size, data: dataUrl.slice(dataUrl.indexOf(",") + 1), thumb });
  }
  renderPending();
}
function renderPending() {
  attachList.hidden = pending.length === 0;
  attachList.replaceChildren(...pending.map((file) => {
    const remove = el("button", ["×"]);
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${file.name}`);
    remove.addEventListener("click", () => { pending = pending.filter((p) => p !== file); renderPending(); prompt.focus(); });
    const item = el("li", [...sentChip(file).childNodes, ...(file.thumb ? [file.name] : []), remove]);
    return item;
  }));
}
