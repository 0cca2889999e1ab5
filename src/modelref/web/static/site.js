// modelref web UI: progressive enhancement only; every page works without it.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(
    () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); },
    () => { button.textContent = "Select and copy"; },
  );
});

// The record editor: Tab indents instead of leaving the field (Escape, then Tab, leaves it), and the JSON is
// checked as it is typed so a syntax error shows before the form is sent.
const editor = document.getElementById("record");
if (editor) {
  let escaped = false;
  const note = document.createElement("p");
  note.className = "field-error";
  note.id = "record-syntax";
  editor.insertAdjacentElement("afterend", note);
  editor.setAttribute("aria-describedby", (editor.getAttribute("aria-describedby") + " record-syntax").trim());
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { escaped = true; return; }
    if (event.key === "Tab" && !event.shiftKey && !escaped) {
      event.preventDefault();
      editor.setRangeText("  ", editor.selectionStart, editor.selectionEnd, "end");
    }
    if (event.key !== "Tab") escaped = false;
  });
  editor.addEventListener("input", () => {
    try { JSON.parse(editor.value); note.textContent = ""; }
    catch (error) { note.textContent = "Not valid JSON yet: " + error.message; }
  });
}

// On a phone the results come first: the filters fold away (one tap opens them).
for (const box of document.querySelectorAll("details.filters-box")) {
  if (window.matchMedia("(max-width: 40rem)").matches) box.open = false;
}
