// The job terms page: "What it costs" follows the reward, assignments and estimated time as they are typed.
// The server renders the same figures (web.job_views.cost_of_terms); the fee is rounded up to the millisatoshi
// as marketplace.escrow.platform_fee_msat rounds it.
(function () {
  "use strict";

  var MSAT_PER_SAT = 1000;

  function wholeNumber(input) {
    var text = input ? input.value.trim() : "";
    return /^\d{1,12}$/.test(text) ? Number(text) : null;
  }

  // As core.money.format_sats: whole sats grouped by commas, a fraction only when there is one.
  function formatSats(msat) {
    var whole = Math.floor(msat / MSAT_PER_SAT);
    var rest = msat % MSAT_PER_SAT;
    var text = whole.toLocaleString("en-US");
    if (rest) { text += ("." + String(rest).padStart(3, "0")).replace(/0+$/, ""); }
    return text;
  }

  function connectCostSummary() {
    var form = document.getElementById("job-terms-form");
    var summary = document.querySelector(".cost-summary[data-fee-basis-points]");
    if (!form || !summary) { return; }
    var basisPoints = Number(summary.getAttribute("data-fee-basis-points"));
    function show(name, text) {
      var output = summary.querySelector('[data-cost="' + name + '"]');
      if (output) { output.textContent = text; }
    }
    function update() {
      var rewardSats = wholeNumber(form.elements.reward_sats);
      var assignments = wholeNumber(form.elements.assignments_per_task);
      var estimate = wholeNumber(form.elements.estimated_seconds_per_task);
      if (!rewardSats || !assignments) {
        ["reward", "fee", "assignments", "per-task", "per-hundred", "per-hour"].forEach(function (name) {
          show(name, "–");
        });
        return;
      }
      var rewardMsat = rewardSats * MSAT_PER_SAT;
      var feeMsat = Math.ceil(rewardMsat * basisPoints / 10000);
      var perTask = (rewardMsat + feeMsat) * assignments;
      show("reward", formatSats(rewardMsat));
      show("fee", formatSats(feeMsat));
      show("assignments", String(assignments));
      show("per-task", formatSats(perTask));
      show("per-hundred", formatSats(perTask * 100));
      show("per-hour", estimate ? Math.floor(rewardSats * 3600 / estimate).toLocaleString("en-US") : "–");
    }
    form.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", connectCostSummary);
})();
