// 已购买的服务: while an instance is 开通中 (the marketplace is waiting for the vendor to answer
// createInstance), fetch the rows again now and then and put in those whose state changed, so that 开通中
// turns 已开通 without a reload. It stops once nothing is 开通中 any more, or after ten minutes (a reload
// then shows the state). A row whose state did not change is left alone, so a half-filled
// 模拟事件 form is not reset under the buyer's hands. Without JavaScript the page works as before.
(function () {
  "use strict";

  var table = document.querySelector("table[data-refresh-url]");
  if (!table || !window.fetch || !table.tBodies.length) {
    return;
  }
  var body = table.tBodies[0];
  var note = document.querySelector("[data-refresh-note]");
  var started = Date.now();
  var GIVE_UP_AFTER_MS = 10 * 60 * 1000;

  function settling() {
    return body.querySelector('tr[data-status="opening"]') !== null;
  }

  // Every second at first (the vendor usually answers within seconds), then less often.
  function nextDelay() {
    var age = Date.now() - started;
    return age < 30000 ? 1000 : age < 120000 ? 3000 : 10000;
  }

  function rowsOf(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return Array.prototype.slice.call(template.content.querySelectorAll("tr"));
  }

  function merge(fresh) {
    var current = Array.prototype.slice.call(body.rows);
    var sameRows =
      fresh.length === current.length &&
      fresh.every(function (row, index) {
        return row.dataset.instance === current[index].dataset.instance;
      });
    if (!sameRows) {
      // An instance was bought in another tab: show the list as it is now.
      body.replaceChildren.apply(body, fresh);
      return;
    }
    fresh.forEach(function (row, index) {
      if (row.dataset.status !== current[index].dataset.status) {
        body.replaceChild(row, current[index]);
      }
    });
  }

  function poll() {
    if (!settling()) {
      if (note) {
        note.hidden = true;
      }
      return;
    }
    if (Date.now() - started > GIVE_UP_AFTER_MS) {
      return;
    }
    if (note) {
      note.hidden = false;
    }
    fetch(table.dataset.refreshUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Signed out meanwhile: the answer is the sign-in page. Stop; the page says who is signed in.
        if (response.redirected) {
          return null;
        }
        if (!response.ok) {
          throw new Error("rows unavailable: HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        merge(rowsOf(html));
        window.setTimeout(poll, nextDelay());
      })
      .catch(function () {
        window.setTimeout(poll, Math.max(nextDelay(), 5000));
      });
  }

  if (note) {
    note.hidden = !settling();
  }
  window.setTimeout(poll, nextDelay());
})();
