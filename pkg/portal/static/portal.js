// acremu portal: copy buttons. Every page works without this script; it
// only reveals the Copy buttons and copies the named element's text.
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var el = document.getElementById(button.dataset.copy);
    var text = "value" in el ? el.value : el.textContent;
    var status = document.querySelector(".copy-status");
    navigator.clipboard.writeText(text).then(function () {
      if (status) status.textContent = "Copied to the clipboard.";
      button.dataset.copied = "true";
    }, function () {
      if (status) status.textContent = "Copying failed; select the text and copy it.";
    });
  });
});
