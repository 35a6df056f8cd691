/* The discovery job page: show progress while the job runs, reload with the results when done. */
(function () {
  "use strict";
  var box = document.getElementById("discover-job");
  if (!box || box.dataset.finished === "yes") { return; }
  window.bpJobs.follow(box.dataset.url, function (job) {
    document.getElementById("job-status").textContent = job.status;
    var progress = job.summary && job.summary.progress;
    if (progress) {
      document.getElementById("job-progress").textContent = "Swept " + progress.sent + " of " + progress.total +
        " addresses, " + progress.found + " device(s) found so far.";
    }
    if (window.bpJobs.FINAL[job.status]) { window.location.reload(); }
  }, 500);
})();
