// The console's only script (the project's own; nothing loaded from elsewhere).
// A "select all" checkbox ticks every checkbox of the same name in its form.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  const name = all.getAttribute("data-select-all");
  for (const box of all.form.querySelectorAll(`input[type=checkbox][name="${name}"]`)) {
    box.checked = all.checked;
  }
});
// A refusal shown after a post gets the focus, so that keyboard and screen-reader users
// hear it first.
document.addEventListener("DOMContentLoaded", () => {
  const refusal = document.getElementById("refusal");
  if (refusal) refusal.focus();
});
