/* The point page: trend chart (uPlot), "read now" with the priority array, following a write. */
(function () {
  "use strict";
  var chartBox = document.getElementById("trend");
  var chart = null;

  function drawTrend(windowName) {
    fetch(chartBox.dataset.url + "&window=" + windowName, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var note = document.getElementById("trend-note");
        var numeric = data.v.some(function (v) { return v !== null; });
        note.textContent = data.stored + (data.stored === 1 ? " reading" : " readings") + " in this window" +
          (data.samples < data.stored ? " (averaged to " + data.samples + " points)" : "") +
          (data.stored > 0 && !numeric
            ? ". None of them is a number (text, NaN or Infinity): the chart stays empty; see the Readings list."
            : ". Drag across the chart to zoom, double-click to reset.");
        var options = {
          width: Math.max(chartBox.clientWidth, 300), height: 300,
          cursor: { drag: { x: true, y: false } },
          scales: { x: { time: true } },
          series: [{}, { label: chartBox.dataset.name + (chartBox.dataset.units ? " (" + chartBox.dataset.units + ")" : ""),
                         stroke: "#007bff", width: 1.5, spanGaps: false }],
          axes: [{}, { size: 60 }]
        };
        if (chart) { chart.destroy(); }
        chart = new uPlot(options, [data.t, data.v], chartBox);
        // Show the whole window even when it holds few readings (one point would span years).
        chart.setScale("x", { min: data.start, max: data.end });
        chartBox.dataset.loaded = String(data.samples);
      });
  }

  document.querySelectorAll("#trend-windows button").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll("#trend-windows button").forEach(function (b) { b.classList.remove("active"); });
      button.classList.add("active");
      drawTrend(button.dataset.window);
    });
  });
  if (chartBox) { drawTrend("hour"); }

  function showPriorityArray(slots) {
    var box = document.getElementById("priority-array");
    if (!box || !slots) { return; }
    box.textContent = "Priority array: ";
    slots.forEach(function (value, index) {
      var slot = document.createElement("span");
      slot.className = "slot" + (value === null ? "" : " active");
      slot.title = "priority " + (index + 1);
      slot.textContent = (index + 1) + ": " + (value === null ? "–" : value);
      box.appendChild(slot);
    });
  }

  var readButton = document.getElementById("read-now");
  if (readButton) {
    readButton.addEventListener("click", function () {
      var result = document.getElementById("read-result");
      result.textContent = "Asking the worker…";
      fetch(readButton.dataset.url, { method: "POST", credentials: "same-origin",
                                      headers: { "X-CSRFToken": window.bpJobs.csrfToken() } })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.error) { result.textContent = answer.error.message; return; }
          window.bpJobs.follow(answer.status_url, function (job) {
            if (job.status === "succeeded") {
              result.textContent = "Present value: " + job.summary.present_value;
              document.getElementById("current-value").firstChild.textContent = job.summary.present_value + " ";
              showPriorityArray(job.summary.priority_array);
            } else if (window.bpJobs.FINAL[job.status]) {
              result.textContent = "Read " + job.status + ": " + job.error;
            } else {
              result.textContent = "Job " + job.id + " " + job.status + "…";
            }
          });
        });
    });
  }

  var writeJob = document.getElementById("write-job");
  if (writeJob) {
    window.bpJobs.follow(writeJob.dataset.url, function (job) {
      if (job.status === "succeeded") {
        writeJob.textContent = "Done: " + job.summary.old_value + " → " + job.summary.new_value;
        showPriorityArray(job.summary.priority_array);
      } else if (window.bpJobs.FINAL[job.status]) {
        writeJob.textContent = "Write " + job.status + ": " + job.error;
        writeJob.className += " text-danger";
      } else {
        writeJob.textContent = "Job " + job.id + " " + job.status + "…";
      }
    });
  }
})();
