// Assisted landmarks: click to place the selected point on the frame; zoom 1x/2x/4x.
// Image coordinates follow OpenCV (the top-left pixel's centre is 0, 0): a click at CSS
// offset u on a frame drawn at `scale` CSS px per image px is at u / scale - 0.5.
(function () {
  "use strict";
  const tool = document.getElementById("landmark-tool");
  if (!tool) return;
  const canvas = document.getElementById("frame-canvas");
  const img = document.getElementById("frame-img");
  const ctx2d = canvas.getContext("2d");
  const auto = JSON.parse(tool.dataset.auto || "{}");
  const points = JSON.parse(tool.dataset.start || "{}");
  const steps = {}; // image px per CSS px when each point was clicked
  const names = Array.from(document.querySelectorAll("#point-choice input")).map((i) => i.value);
  const colours = { heel: "#f5a623", psis: "#1e88e5", hip: "#1e88e5" };
  let scale = 1;

  function baseScale() {
    const wrap = document.getElementById("frame-wrap");
    return Math.min(1, (wrap.clientWidth || 960) / img.naturalWidth);
  }

  function draw() {
    if (!img.naturalWidth) return;
    scale = baseScale() * Number(document.getElementById("zoom").value);
    canvas.width = Math.round(img.naturalWidth * scale);
    canvas.height = Math.round(img.naturalHeight * scale);
    canvas.style.width = canvas.width + "px";
    canvas.style.height = canvas.height + "px";
    scale = canvas.width / img.naturalWidth;
    ctx2d.drawImage(img, 0, 0, canvas.width, canvas.height);
    const at = (p) => [(p[0] + 0.5) * scale, (p[1] + 0.5) * scale];
    for (const [name, p] of Object.entries(auto)) {
      const [x, y] = at(p);
      ctx2d.strokeStyle = colours[name.split("_")[0]] || "#fff";
      ctx2d.lineWidth = 1.5;
      ctx2d.beginPath();
      ctx2d.arc(x, y, 7, 0, 2 * Math.PI);
      ctx2d.stroke();
    }
    for (const [name, p] of Object.entries(points)) {
      const [x, y] = at(p);
      ctx2d.fillStyle = colours[name.split("_")[0]] || "#fff";
      ctx2d.strokeStyle = "#000";
      ctx2d.beginPath();
      ctx2d.arc(x, y, 3.5, 0, 2 * Math.PI);
      ctx2d.fill();
      ctx2d.stroke();
      ctx2d.font = "12px sans-serif";
      ctx2d.fillText(name.replace("_", " "), x + 6, y - 6);
    }
    tool.dataset.points = JSON.stringify(points);
    tool.dataset.scale = String(scale);
    for (const span of document.querySelectorAll(".placed")) {
      const p = points[span.dataset.for];
      span.textContent = p ? `(${p[0].toFixed(1)}, ${p[1].toFixed(1)})` : "(not placed)";
    }
  }

  canvas.addEventListener("click", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const k = canvas.width / rect.width; // canvas px per CSS px (1 unless the page is zoomed)
    // Browsers report whole CSS pixels (the pointer was somewhere inside that pixel):
    // its centre, + 0.5, is the unbiased position. A fractional coordinate is kept as is.
    const cx = Number.isInteger(ev.clientX) ? ev.clientX + 0.5 : ev.clientX;
    const cy = Number.isInteger(ev.clientY) ? ev.clientY + 0.5 : ev.clientY;
    const x = ((cx - rect.left) * k) / scale - 0.5;
    const y = ((cy - rect.top) * k) / scale - 0.5;
    const chosen = document.querySelector("#point-choice input:checked");
    if (!chosen) return;
    points[chosen.value] = [x, y];
    steps[chosen.value] = k / scale;
    const next = names.find((n) => !(n in points));
    if (next) document.querySelector(`#point-choice input[value="${next}"]`).checked = true;
    draw();
  });

  document.getElementById("zoom").addEventListener("change", draw);
  window.addEventListener("resize", draw);
  img.addEventListener("load", draw);
  if (img.complete) draw();

  document.getElementById("save-landmarks").addEventListener("click", async () => {
    const status = document.getElementById("landmark-status");
    const error = document.getElementById("landmark-error");
    error.hidden = true;
    const missing = names.filter((n) => !(n in points));
    if (missing.length) {
      error.textContent = "Place every point first: " + missing.join(", ");
      error.hidden = false;
      return;
    }
    // The coarsest click step of this session; points not clicked again keep the step of
    // the zoom shown now.
    const stepList = Object.values(steps);
    const step = stepList.length ? Math.max(...stepList) : 1 / scale;
    status.textContent = "recomputing…";
    const resp = await fetch(`/ui/measurements/${tool.dataset.measurement}/landmarks`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        frame_index: Number(tool.dataset.frame),
        points_px: points,
        click_step_px: step,
      }),
    });
    const body = await resp.json().catch(() => ({ detail: "no answer" }));
    if (!resp.ok) {
      status.textContent = "";
      error.textContent = body.detail || "not saved";
      error.hidden = false;
      return;
    }
    document.getElementById("assisted-lld").textContent = body.lld;
    document.getElementById("assisted-lld-ci").textContent = body.lld_ci;
    document.getElementById("assisted-tilt").textContent = body.tilt;
    document.getElementById("assisted-tilt-ci").textContent = body.tilt_ci;
    document.getElementById("assisted-who").textContent = `placed by ${body.by}, ${body.at}`;
    document.getElementById("assisted-row").hidden = false;
    status.textContent = `saved (assisted #${body.id})`;
    tool.dataset.saved = String(body.id);
  });
})();
