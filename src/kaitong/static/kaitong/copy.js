// 复制 buttons: copy the text of the element named by data-copy, then say data-copied for 1.5 s.
// A file rather than an inline script: the Content-Security-Policy allows scripts from /static/ only.
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.querySelector('[data-testid="' + button.dataset.copy + '"]').textContent;
    var done = function () {
      var old = button.textContent;
      button.textContent = button.dataset.copied;
      setTimeout(function () { button.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done); return; }
    var area = document.createElement("textarea"); area.value = text; document.body.appendChild(area); area.select();
    document.execCommand("copy"); document.body.removeChild(area); done();
  });
});
