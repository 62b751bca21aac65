// Visit page: live quality text, start a capture, follow it until the measurement is done.
(function () {
  "use strict";
  const root = document.getElementById("visit");
  if (!root) return;
  const visitId = root.dataset.visit;
  const phase = root.dataset.phase;
  // Screen readers: only the state words are live regions (#quality-word, #capture-state);
  // the numbers that change every second (#live-numbers, #capture-progress) are not, and a
  // live region is written only when its words change, so each change is announced once.
  const quality = document.getElementById("quality");
  const qualityWord = document.getElementById("quality-word");
  const liveNumbers = document.getElementById("live-numbers");
  const detail = document.getElementById("quality-detail");
  const preview = document.getElementById("preview");
  const form = document.getElementById("capture-form");
  const captureState = document.getElementById("capture-state");
  const captureProgress = document.getElementById("capture-progress");
  const errorBox = document.getElementById("capture-error");
  const buttons = form ? form.querySelectorAll("button[type=submit]") : [];
  const initial = {};
  document.querySelectorAll("#measurements tr[data-id]").forEach(function (tr) {
    initial[tr.dataset.id] = tr.dataset.status;
  });

  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }
  function setStatus(state, progress) {
    setText(captureState, state);
    setText(captureProgress, progress || "");
  }
  function setBusy(busy) { buttons.forEach(function (b) { b.disabled = busy; }); }
  function showError(text) { errorBox.textContent = text; errorBox.hidden = !text; }

  async function pollLive() {
    if (!quality) return;
    try {
      const r = await fetch("/ui/live/status.json?phase=" + phase + "&visit=" + visitId, { cache: "no-store" });
      if (r.status === 200) {
        const s = await r.json();
        if (s.error) {
          setText(qualityWord, "camera error: " + s.error);
          setText(liveNumbers, "");
          quality.className = "quality bad";
          detail.textContent = "Check the camera connection, then reload the page.";
        } else if (s.reading) {
          setText(qualityWord, s.reading.quality);
          setText(liveNumbers, s.reading.lld_mm !== null
            ? "· live LLD " + s.reading.lld_mm.toFixed(1) + " mm, tilt " + s.reading.pelvic_tilt_deg.toFixed(1) + "°"
            : "");
          quality.className = "quality " + (s.reading.ready ? "ok" : "bad");
          detail.textContent = s.analysis_paused ? "Live analysis paused while measuring." : s.reading.detail;
        }
      }
    } catch (e) { /* the next poll tries again */ }
    setTimeout(pollLive, 1000);
  }

  async function pollVisit() {
    try {
      const r = await fetch("/ui/visits/" + visitId + "/state.json", { cache: "no-store" });
      if (r.status === 200) {
        const s = await r.json();
        const c = s.capture;
        let busy = false;
        if (c) {
          if (c.state === "capturing") {
            setStatus("Recording " + c.phase + " — keep the patient still", c.recorded_s.toFixed(1) + " of " + c.seconds.toFixed(0) + " s");
            busy = true;
          } else if (c.state === "storing") {
            setStatus("Storing and measuring the " + c.phase + " recording…");
            busy = true;
          } else if (c.state === "queued" || c.state === "measured") {
            setStatus("");
          } else if (c.state === "failed") {
            setStatus("");
            showError(c.message);
          }
        }
        let reload = false;
        s.measurements.forEach(function (m) {
          const before = initial[m.id];
          if (m.status === "pending" || m.status === "running") {
            busy = true;
            setStatus("Measuring " + m.phase + "…", Math.round(m.progress * 100) + "%");
          }
          if (before !== m.status && (m.status === "done" || m.status === "failed" || before === undefined)) reload = true;
        });
        setBusy(busy);
        if (reload) { window.location.reload(); return; }
      }
    } catch (e) { /* try again */ }
    setTimeout(pollVisit, 1000);
  }

  if (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const data = new FormData(form);
      data.set("phase", ev.submitter ? ev.submitter.value : phase);
      showError("");
      setBusy(true);
      setStatus("Starting the " + data.get("phase") + " capture…");
      const r = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" } });
      if (r.status !== 202) {
        let msg = "The capture could not start.";
        try { msg = (await r.json()).detail || msg; } catch (e) { /* keep the default */ }
        showError(msg);
        setStatus("");
        setBusy(false);
      }
    });
  }

  // Streams end after a few minutes (so the server can shut down cleanly): reconnect.
  if (preview) {
    setInterval(function () {
      preview.src = "/ui/live/stream.mjpg?phase=" + phase + "&visit=" + visitId + "&t=" + Date.now();
    }, 220000);
  }
  pollLive();
  pollVisit();
})();
