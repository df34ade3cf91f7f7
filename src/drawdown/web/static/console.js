// The console's only script: copy buttons. Everything else works without JavaScript.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch {
    // No clipboard access (plain HTTP on another host): the text is selected for Ctrl+C.
    button.textContent = "Press Ctrl+C";
  }
});
