// Factor picker: Enter in its search box searches the library and never submits the page's form
// (the picker sits inside the form that posts the chosen factor). A delegated listener, so it also
// holds when the page is swapped by HTMX.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || !box || box.id !== "picker-q") return;
    event.preventDefault();
    if (window.htmx) window.htmx.trigger(box, "search");
  });
})();
