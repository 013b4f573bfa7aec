// The answer form builder (a draft job's "Answer form" page): "Add a field" and "Remove" work in the page, and each
// field shows only the inputs its kind uses (choices; minimum and maximum), as the kind menu's options say in
// data-uses, which the server renders from its registry of kinds. Without this script the page still works:
// "Add a field" posts the form, a field is removed with its "Delete" box, and every input shows.
(function () {
  "use strict";

  var NAME_INPUT = 'input[name$="-name"]';
  var KIND_SELECT = 'select[name$="-kind"]';
  var DELETE_BOX = 'input[name$="-DELETE"]';

  function showKindInputs(row) {
    var select = row.querySelector(KIND_SELECT);
    var option = select && select.options[select.selectedIndex];
    var uses = ((option && option.getAttribute("data-uses")) || "").split(" ");
    row.querySelectorAll("[data-kind-input]").forEach(function (wrapper) {
      wrapper.hidden = uses.indexOf(wrapper.getAttribute("data-kind-input")) === -1;
    });
  }

  // The formset's empty form with the index of a new form in every attribute that names it (name, id, for,
  // aria-describedby), as Django's formsets expect: fields-__prefix__-name becomes fields-3-name.
  function newRowFrom(template, index) {
    var row = template.content.firstElementChild.cloneNode(true);
    [row].concat(Array.prototype.slice.call(row.querySelectorAll("*"))).forEach(function (element) {
      Array.prototype.forEach.call(element.attributes, function (attribute) {
        if (attribute.value.indexOf("__prefix__") !== -1) {
          attribute.value = attribute.value.replace(/__prefix__/g, String(index));
        }
      });
    });
    return row;
  }

  function connectBuilder(form) {
    var list = form.querySelector("[data-builder-fields]");
    var emptyField = document.getElementById("builder-empty-field");
    var addButton = form.querySelector("[data-builder-add]");
    var status = form.querySelector("[data-builder-status]");
    var totalForms = form.querySelector('input[name="fields-TOTAL_FORMS"]');
    var maxForms = Number(form.querySelector('input[name="fields-MAX_NUM_FORMS"]').value) || 50;

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("[data-builder-field]"));
    }

    function shownRows() {
      return rows().filter(function (row) { return !row.hidden; });
    }

    // "Field 1", "Field 2"... count the fields that will be saved, as the server's messages do.
    function renumber() {
      shownRows().forEach(function (row, index) {
        row.querySelectorAll("[data-builder-number]").forEach(function (number) {
          number.textContent = String(index + 1);
        });
      });
    }

    // What happened, for screen readers; shown too when the page shows it nowhere else (shown: true).
    function announce(message, shown) {
      // Screen readers do not read a live region again when its text does not change.
      status.textContent = status.textContent === message ? message + "\u00a0" : message;
      status.classList.toggle("visually-hidden", !shown);
    }

    function describe(row) {
      var name = row.querySelector(NAME_INPUT).value.trim();
      return name ? "field “" + name + "”" : "an unnamed field";
    }

    // A removed field stays in the form, hidden, with its Delete box ticked (Django then neither checks nor saves
    // it); in its place a line says so and offers to undo.
    function removeRow(row) {
      var what = describe(row);
      var placeholder = document.createElement("p");
      placeholder.className = "builder-removed";
      placeholder.append("Removed " + what + ". ");
      var undo = document.createElement("button");
      undo.type = "button";
      undo.className = "btn btn-secondary btn-small";
      undo.append("Undo");
      var context = document.createElement("span");
      context.className = "visually-hidden";
      context.textContent = " removing " + what;
      undo.appendChild(context);
      undo.addEventListener("click", function () { restoreRow(row, placeholder); });
      placeholder.appendChild(undo);
      row.querySelector(DELETE_BOX).checked = true;
      row.hidden = true;
      row.before(placeholder);
      renumber();
      return undo;
    }

    function restoreRow(row, placeholder) {
      row.querySelector(DELETE_BOX).checked = false;
      row.hidden = false;
      placeholder.remove();
      renumber();
      announce("Restored " + describe(row) + ".");
      row.querySelector(NAME_INPUT).focus();
    }

    function enhanceRow(row) {
      var removeArea = row.querySelector("[data-builder-remove-area]");
      var deleteField = row.querySelector("[data-builder-delete]");
      if (removeArea && deleteField) {
        removeArea.hidden = false;
        deleteField.hidden = true;
      }
      showKindInputs(row);
    }

    function addRow() {
      if (shownRows().length >= maxForms) {
        announce("A form can have at most " + maxForms + " fields.", true);
        return;
      }
      var index = Number(totalForms.value);
      var row = newRowFrom(emptyField, index);
      totalForms.value = String(index + 1);
      list.appendChild(row);
      enhanceRow(row);
      renumber();
      announce("Added field " + shownRows().length + ".");
      row.querySelector(NAME_INPUT).focus();
    }

    list.addEventListener("change", function (event) {
      if (event.target.matches(KIND_SELECT)) { showKindInputs(event.target.closest("[data-builder-field]")); }
    });

    rows().forEach(enhanceRow);
    if (!addButton || !emptyField || !status || !totalForms) { return; }  // a published job's form: read-only

    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-builder-remove]");
      if (!button) { return; }
      var row = button.closest("[data-builder-field]");
      var what = describe(row);
      var undo = removeRow(row);
      announce("Removed " + what + ".");
      undo.focus();
    });

    // The submit event, not a click: pressing Enter in a text input "presses" the form's first button too.
    form.addEventListener("submit", function (event) {
      if (event.submitter === addButton) {
        event.preventDefault();
        addRow();
      }
    });

    // After a failed save the page comes back with the fields removed so far still ticked for deletion.
    rows().forEach(function (row) {
      var box = row.querySelector(DELETE_BOX);
      if (box && box.checked) { removeRow(row); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-form-builder]");
    if (form) { connectBuilder(form); }
  });
})();
