// 获取验证码: after a code was sent, the button counts down the seconds until the address takes another
// one ("已发送（59 秒）"), disabled meanwhile, then offers 重新获取. The seconds come from the server
// (data-wait, on the button the page or the in-page answer brings), the words too (data-counting with
// {s}, data-again). Typing another email ends the wait: the cooldown is per address.
// A file rather than an inline script: the Content-Security-Policy allows scripts from /static/ only.
(function () {
  "use strict";

  function emailOf(button) {
    var field = button.form && button.form.elements.namedItem("email");
    return field ? field.value.trim().toLowerCase() : "";
  }

  function arm(button) {
    var left = parseInt(button.dataset.wait || "0", 10);
    if (!(left > 0) || button.dataset.armed) return;
    button.dataset.armed = "1";
    var sentTo = emailOf(button);
    var field = button.form && button.form.elements.namedItem("email");
    var timer = null;
    var stop = function () {
      clearInterval(timer);
      button.disabled = false;
      button.textContent = button.dataset.again;
      if (field) field.removeEventListener("input", changed);
    };
    var changed = function () { if (emailOf(button) !== sentTo) stop(); };
    var show = function () { button.textContent = button.dataset.counting.replace("{s}", String(left)); };
    button.disabled = true;
    show();
    timer = setInterval(function () {
      left -= 1;
      if (left <= 0 || !document.body.contains(button)) { stop(); return; }
      show();
    }, 1000);
    if (field) field.addEventListener("input", changed);
  }

  function armAll(root) {
    var buttons = root.querySelectorAll ? root.querySelectorAll("button.send-code") : [];
    if (root.matches && root.matches("button.send-code")) arm(root);
    Array.prototype.forEach.call(buttons, arm);
  }

  // An in-page request that could not be answered (a 403 for an expired CSRF cookie, a 500, the network):
  // send the form the way a browser without JavaScript does, which shows what went wrong.
  function fallBack(event) {
    var button = event.detail && event.detail.elt;
    if (!button || !button.matches || !button.matches("button.send-code") || !button.form) return;
    button.disabled = false;
    if (button.form.requestSubmit) button.form.requestSubmit(button); else button.form.submit();
  }

  if (window.htmx) {
    window.htmx.onLoad(armAll);  // the page, and every part an in-page answer brings
    document.body.addEventListener("htmx:responseError", fallBack);
    document.body.addEventListener("htmx:sendError", fallBack);
  } else {
    armAll(document);
  }
})();
