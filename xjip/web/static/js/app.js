// Small page behaviours, no inline handlers (CSP): htmx sends the CSRF token; filter forms drop empty fields;
// forms marked data-confirm ask before submitting.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { evt.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
  });
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { evt.preventDefault(); return; }
    if (form.classList.contains("filters") && form.method.toLowerCase() === "get") {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && !el.value) { el.disabled = true; }
      });
    }
  });
})();
