// Import wizard: drag-and-drop upload with a progress bar, and in-place error answers.
// Delegated listeners, because HTMX swaps the uploader after an error.
(function () {
  "use strict";

  function uploaderForm(el) {
    return el && el.closest ? el.closest("form.dropzone-form") : null;
  }

  function say(form, text) {
    var status = form.querySelector(".upload-name");
    if (status) status.textContent = text;
  }

  function showError(form, text) {
    var box = form.querySelector(".client-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function send(form, input) {
    var file = input.files && input.files[0];
    if (!file) return;
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    if (max && file.size > max) {
      // The server refuses it too; saying so here spares sending the whole file first.
      showError(form, "“" + file.name + "” is larger than the " + form.dataset.maxMb +
        " MB limit. Split it, or remove unused columns and sheets.");
      input.value = "";
      return;
    }
    showError(form, "");
    say(form, "Uploading “" + file.name + "”…");
    var bar = form.querySelector("progress");
    if (bar) { bar.hidden = false; bar.value = 0; }
    form.requestSubmit();
  }

  document.addEventListener("change", function (event) {
    var form = uploaderForm(event.target);
    if (form && event.target.type === "file") send(form, event.target);
  });

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = event.target.closest && event.target.closest(".dropzone");
      if (!zone) return;
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = event.target.closest && event.target.closest(".dropzone");
      if (!zone) return;
      event.preventDefault();
      zone.classList.remove("dragging");
      if (name === "drop" && event.dataTransfer && event.dataTransfer.files.length) {
        var input = zone.querySelector("input[type=file]");
        input.files = event.dataTransfer.files;
        send(uploaderForm(zone), input);
      }
    });
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploaderForm(event.target);
    if (!form || !event.detail.lengthComputable) return;
    var bar = form.querySelector("progress");
    var percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    if (bar) bar.value = percent;
    if (percent >= 100) say(form, "Reading the file…");
  });

  // Refusals (file too large: 413, unreadable or invalid: 422) are answered with the page part
  // that explains them; show it in place instead of dropping it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 413 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
