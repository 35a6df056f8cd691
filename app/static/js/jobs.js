/* Following a job from a page: poll its status URL until it is finished. No inline scripts:
   pages pass URLs in data- attributes (Content-Security-Policy friendly). */
(function () {
  "use strict";
  var FINAL = { succeeded: true, failed: true, skipped: true, lost: true };

  function follow(url, onUpdate, intervalMs, maxPolls) {
    var polls = 0;
    intervalMs = intervalMs || 700;
    maxPolls = maxPolls || 200;
    function poll() {
      polls += 1;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (job) {
          onUpdate(job);
          if (!FINAL[job.status] && polls < maxPolls) { window.setTimeout(poll, intervalMs); }
        })
        .catch(function () { if (polls < maxPolls) { window.setTimeout(poll, intervalMs * 2); } });
    }
    poll();
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  window.bpJobs = { follow: follow, csrfToken: csrfToken, FINAL: FINAL };
})();
