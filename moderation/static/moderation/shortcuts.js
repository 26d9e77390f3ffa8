// Keyboard shortcuts for the moderator pages. Plain script, no dependencies, CSP-safe
// (loaded from 'self', no inline handlers). Keys are ignored while typing in a field.
(function () {
  "use strict";

  // A choice made with the mouse (the strike radios, a checkbox) keeps the keys working.
  var CHOICES = ["radio", "checkbox", "submit", "button"];

  function typing(target) {
    var tag = (target && target.tagName) || "";
    if (tag === "INPUT" && CHOICES.indexOf(target.type) >= 0) { return false; }
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function queue() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-case-row]"));
    if (!rows.length) { return null; }
    var index = 0;
    function select(i) {
      rows[index].classList.remove("selected");
      index = Math.max(0, Math.min(rows.length - 1, i));
      rows[index].classList.add("selected");
      rows[index].scrollIntoView({ block: "nearest" });
    }
    select(0);
    return {
      j: function () { select(index + 1); },
      k: function () { select(index - 1); },
      Enter: function () { window.location.assign(rows[index].dataset.caseUrl); },
      x: function () {
        var box = rows[index].querySelector("input[type=checkbox]");
        if (box) { box.checked = !box.checked; }
      },
      c: function () {
        var button = rows[index].querySelector(".claim-btn");
        if (button) { button.click(); }
      }
    };
  }

  function casePage() {
    var keys = {};
    document.querySelectorAll("[data-shortcut]").forEach(function (button) {
      keys[button.dataset.shortcut] = function () {
        if (button.dataset.shortcut === "n") {
          var note = document.querySelector("[data-note]");
          if (note && !note.value) { note.focus(); return; }
        }
        button.click();
      };
    });
    return keys;
  }

  // Anything that strikes or hides asks first: forms with data-confirm always, the
  // "mark AI-generated" form (data-confirm-strike) when its strike choice is yes.
  function confirmations() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var message = form.dataset.confirm;
      if (!message && form.dataset.confirmStrike) {
        var yes = form.querySelector("input[name=strike][value='1']");
        if (yes && yes.checked) { message = form.dataset.confirmStrike; }
      }
      if (message && !window.confirm(message)) { event.preventDefault(); }
    }, true);
  }

  // One "tool or model" field serves both AI decisions: its value goes into the hidden
  // field of whichever form is sent (without script the hidden field keeps the detected
  // generator).
  function toolField() {
    var field = document.getElementById("decision-tool");
    if (!field) { return; }
    document.addEventListener("submit", function (event) {
      var hidden = event.target.querySelector("input[data-tool]");
      if (hidden) { hidden.value = field.value; }
    }, true);
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    toolField();
    var keys = queue() || casePage();
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
      var handler = keys[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });
    document.body.dataset.shortcutsReady = "1";
  });
})();
