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

  // As the sats_due filter: what the requester pays, in whole sats rounded up, grouped by commas.
  function formatSatsDue(msat) {
    return Math.ceil(msat / MSAT_PER_SAT).toLocaleString("en-US");
  }

  function connectCostSummary() {
    var form = document.getElementById("job-terms-form");
    var summary = document.querySelector(".cost-summary[data-fee-basis-points]");
    if (!form || !summary) { return; }
    var basisPoints = Number(summary.getAttribute("data-fee-basis-points"));
    function show(name, text) {
      var output = summary.querySelector('[data-cost="' + name + '"]');
      if (output) { output.textContent = text; }
      var unit = summary.querySelector('[data-cost-unit="' + name + '"]');
      if (unit) { unit.textContent = text === "1" ? "sat" : "sats"; }
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
      show("reward", formatSatsDue(rewardMsat));
      show("fee", formatSatsDue(feeMsat));
      show("assignments", String(assignments));
      show("per-task", formatSatsDue(perTask));
      show("per-hundred", formatSatsDue(perTask * 100));
      show("per-hour", estimate ? Math.floor(rewardSats * 3600 / estimate).toLocaleString("en-US") : "–");
    }
    form.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", connectCostSummary);
})();
