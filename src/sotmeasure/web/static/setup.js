// The setup page: follows a running calibration (from the camera: recording guidance, then
// the calibration; from an uploaded clip: the calibration) and reloads the page when it has
// ended, to show the new version or the reason it failed.
(function () {
  const box = document.getElementById("calibration-progress");
  if (!box) return;
  const url = box.dataset.url;
  const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
  async function poll() {
    let job = null;
    try {
      const r = await fetch(url, { credentials: "same-origin" });
      job = await r.json();
    } catch (e) {
      setTimeout(poll, 1000);
      return;
    }
    if (!job) return;
    set("cal-state", job.state === "recording" ? "recording the board" : job.state);
    if (job.source === "camera") {
      set("cal-frames", `${job.frames_recorded} of ${job.frames_planned}`);
      set("cal-views", String(job.views_found));
      set("cal-coverage", `${Math.round(job.coverage * 100)} %`);
      set("cal-corners", job.corners_reached.length ? job.corners_reached.join(", ") : "none yet");
      set("cal-hint", job.hint);
    }
    if (job.state === "done" || job.state === "failed") {
      window.location.reload();
      return;
    }
    setTimeout(poll, 500);
  }
  poll();
})();
