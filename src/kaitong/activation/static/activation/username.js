/* The username a registration form will register, shown as it is typed, and the confirmation that
   carries it. The stored form never changes, and the server normalises what is typed (NFKC, lower
   case: "Wu6893Upper" → "wu6893upper", full-width "ｇｅｎｇ6893" → "geng6893"), so the buyer sees the
   result before registering. canonicalUsername is accounts.domain.canonical_username written again:
   tests/unit/accounts/test_username_preview_agrees.py runs this file in node over every assigned
   character and tricky inputs and compares. The server still decides: a form whose confirmation does
   not carry its own canonical name is refused and shown again with the name (so a browser that
   disagrees, or runs no script, cannot register a name the buyer did not confirm).
   A file, not an inline script: the Content-Security-Policy allows scripts from /static/ only. */
(function () {
  "use strict";

  // Python's str.strip(): the characters str.isspace() is true for (JavaScript's trim() differs: it
  // strips U+FEFF and keeps U+001C–U+001F and U+0085).
  var SPACE = "\\t\\n\\v\\f\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var EDGES = new RegExp("^[" + SPACE + "]+|[" + SPACE + "]+$", "g");
  var MIN = 4;
  var MAX = 32;

  /* {name: canonical} or {error: "length" | "charset" | "start"} (accounts.domain.UsernameRule). */
  function canonicalUsername(raw) {
    var value = String(raw).replace(EDGES, "").normalize("NFKC").toLowerCase().normalize("NFKC");
    var length = Array.from(value).length; // code points, as Python's len()
    if (length < MIN || length > MAX) return { error: "length" };
    if (!/^[a-z0-9_.\-]+$/.test(value)) return { error: "charset" };
    if (!/^[a-z]/.test(value)) return { error: "start" };
    return { name: value };
  }

  if (typeof module === "object" && module.exports) {
    module.exports = { canonicalUsername: canonicalUsername };
  }
  if (typeof document === "undefined") return;
  window.kaitongCanonicalUsername = canonicalUsername;

  function show(element, visible) {
    if (element) element.hidden = !visible;
  }

  function wire(preview) {
    var form = preview.closest("form");
    var input = form && form.querySelector('input[name="username"]');
    if (!input) return;
    var ok = preview.querySelector("[data-preview-ok]");
    var name = ok && ok.querySelector("b");
    var changed = preview.querySelector("[data-preview-changed]");
    var problem = preview.querySelector("[data-preview-error]");
    var confirm = form.querySelector("[data-confirm-username]");
    var box = confirm && confirm.querySelector('input[name="confirm_username"]');
    var known = confirm && confirm.querySelector("[data-confirm-known]");
    var unknown = confirm && confirm.querySelector("[data-confirm-unknown]");
    var confirmName = known && known.querySelector("b");

    function update() {
      var typed = input.value;
      var result = typed.trim() === "" ? { error: "empty" } : canonicalUsername(typed);
      var canonical = result.name || "";
      show(ok, Boolean(canonical));
      if (name) name.textContent = canonical;
      show(changed, Boolean(canonical) && canonical !== typed);
      var message = result.error && result.error !== "empty" ? preview.getAttribute("data-error-" + result.error) : "";
      if (problem) problem.textContent = message || "";
      show(problem, Boolean(message));
      if (!box) return;
      // A confirmation is of one exact name: another name needs it again.
      if (box.value !== canonical) box.checked = false;
      box.value = canonical;
      box.disabled = !canonical;
      if (confirmName) confirmName.textContent = canonical;
      show(known, Boolean(canonical));
      show(unknown, !canonical);
    }

    input.addEventListener("input", update);
    // The page came with the preview of what it was sent with; a value the browser restored (Back,
    // autofill) is another one.
    if (input.value !== input.defaultValue) update();
  }

  document.querySelectorAll("[data-username-preview]").forEach(wire);
})();
