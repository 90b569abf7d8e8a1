// Strobe's web console: the API's own routes, called with the key kept in sessionStorage.
const $ = (selector) => document.querySelector(selector);
const KEY = "strobe.key";
const POLL_MS = 2000;
const HISTORY = 150; // queue-depth samples kept per kind: five minutes at one per poll

const state = { key: sessionStorage.getItem(KEY), view: "tasks", detail: null, timer: null,
  round: 0, kinds: [], options: {}, depth: {}, offline: false };

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, init = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, "Accept-Version": "2024-08-21",
    ...(init.headers || {}) };
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (failure) {
    connection(false);
    throw new ApiError(0, "unreachable", "the API is unreachable");
  }
  connection(true);
  const json = (response.headers.get("content-type") || "").includes("json");
  const body = json ? await response.json() : await response.text();
  if (!response.ok) {
    const error = (json && body.error) || {};
    throw new ApiError(response.status, error.code || "http_error",
      error.message || `HTTP ${response.status}`);
  }
  return body;
}

function connection(up) {
  if (up === !state.offline) return;
  state.offline = !up;
  $("#connection").textContent = up ? "Reconnected to the API." : "The API is unreachable; retrying…";
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// -- logging in ---------------------------------------------------------------------------

async function logIn(key) {
  state.key = key;
  try {
    await api("/tasks?limit=1");
  } catch (error) {
    state.key = null;
    sessionStorage.removeItem(KEY);
    $("#login-error").textContent = error.status === 401
      ? "That API key was refused. Check it and try again." : error.message;
    return;
  }
  sessionStorage.setItem(KEY, key);
  await loadKinds();
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  show("tasks");
}

function logOut() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

// -- views --------------------------------------------------------------------------------

function show(view) {
  state.view = view;
  for (const button of document.querySelectorAll("nav button")) {
    if (button.dataset.view === view) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const name of ["tasks", "new", "cluster"]) $(`#view-${name}`).hidden = name !== view;
  if (view === "new") loadAutomations().catch(() => {});
  clearTimeout(state.timer);
  poll(++state.round);
}

// One polling loop at a time: a loop started by an earlier view stops at its next turn.
async function poll(round) {
  try {
    if (state.view === "tasks") await refreshTasks();
    if (state.view === "cluster") await refreshCluster();
  } catch (error) {
    if (error.status === 401) return logOut();
  }
  if (round === state.round) state.timer = setTimeout(() => poll(round), POLL_MS);
}

// -- tasks --------------------------------------------------------------------------------

async function refreshTasks() {
  const query = new URLSearchParams({ limit: "50" });
  for (const name of ["kind", "status", "sort", "order"]) {
    const value = $(`#filter-${name}`).value;
    if (value) query.set(name, value);
  }
  const { data } = await api(`/tasks?${query}`);
  $("#tasks-empty").hidden = data.length > 0;
  $("#tasks tbody").replaceChildren(...data.map(taskRow));
  if (state.detail) await refreshDetail(false);
}

function elapsed(task) {
  const start = Date.parse(task.created);
  const end = ["ready", "error"].includes(task.status) ? Date.parse(task.updated) : Date.now();
  return `${Math.max(0, (end - start) / 1000).toFixed(1)} s`;
}

function taskRow(task) {
  const running = ["waiting", "processing"].includes(task.status);
  const open = el("button", { type: "button", class: "open", onclick: () => openDetail(task.id) },
    task.id);
  const cancel = running
    ? el("button", { type: "button", class: "cancel", "aria-label": `Cancel ${task.id}`,
      onclick: () => cancelTask(task.id) }, "Cancel")
    : null;
  const progress = el("progress", { max: "100", value: String(task.progress),
    "aria-label": `Progress of ${task.id}` });
  return el("tr", { "data-id": task.id, "data-status": task.status },
    el("td", {}, open), el("td", {}, task.kind),
    el("td", { class: "status" }, task.error ? `${task.status} (${task.error.code})` : task.status),
    el("td", {}, progress, ` ${task.progress}%`), el("td", {}, elapsed(task)),
    el("td", {}, task.ran_on || "—"), el("td", {}, cancel));
}

async function cancelTask(id) {
  try {
    await api(`/tasks/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (error) {
    $("#detail-error").textContent = `${error.code}: ${error.message}`;
  }
  await refreshTasks();
}

async function openDetail(id) {
  state.detail = id;
  $("#detail-title").textContent = "Loading…";
  $("#detail").dataset.id = "";
  $("#detail").hidden = false;
  await refreshDetail(true);
  $("#detail-title").focus?.();
}

async function refreshDetail(full) {
  const { data: task } = await api(`/tasks/${encodeURIComponent(state.detail)}`);
  const finished = ["ready", "error"].includes(task.status);
  const shown = $("#detail").dataset;
  if (!full && shown.status === task.status && shown.id === task.id) return;
  shown.status = task.status;
  shown.id = task.id;
  let input = el("p", {}, String(task.input));
  if (typeof task.input === "string" && task.input.startsWith("file_")) {
    try { input = render((await api(`/files/${task.input}`)).data); } catch { /* shown as id */ }
  }
  // Everything at once, the title last: what the title says is on the page.
  $("#detail-error").textContent = task.error ? `${task.error.code}: ${task.error.message}` : "";
  $("#detail-json").textContent = JSON.stringify(task, null, 2);
  $("#detail-input").replaceChildren(input);
  $("#detail-output").replaceChildren(finished && task.status === "ready"
    ? render(task.output) : el("p", {}, task.status === "error" ? "No output." : "Not ready yet."));
  if (task.status === "ready" && ["objects", "faces", "text"].includes(task.kind)) {
    fetch(task.output.url).then((r) => r.json()).then((data) => drawBoxes(data.timeline || []));
  }
  const player = $("#detail-input video, #detail-input audio");
  const vtt = task.status === "ready" && (task.output.type || task.output.mimetype) === "text/vtt";
  if (player && vtt && ["subtitles", "chapters"].includes(task.kind)) {
    // Subtitles and chapters as tracks on the input's player.
    player.append(el("track", { kind: task.kind, src: task.output.url, default: "",
      label: task.kind, srclang: task.options?.language || "und" }));
  }
  $("#detail-title").textContent = `${task.kind} task ${task.id}: ${task.status}`;
}

// Detections as boxes over the input: all of them on a picture; on a video, those seen
// around the current time, redrawn as it plays or is scrubbed.
function drawBoxes(timeline) {
  const media = $("#detail-input img, #detail-input video");
  if (!media) return;
  const stage = el("div", { class: "stage" });
  media.replaceWith(stage);
  const layer = el("div", { class: "boxes", "aria-label": "Detections" });
  stage.append(media, layer);
  const draw = () => {
    const t = media.tagName === "VIDEO" ? media.currentTime : null;
    const shown = timeline.filter((e) => e.box && (t === null
      || (t >= (e.start ?? 0) - 0.5 && t <= (e.end ?? e.start ?? 0) + 0.5)));
    layer.replaceChildren(...shown.map((e) => {
      const box = el("div", { class: "box", title: `${e.label || e.text} ${e.confidence}` },
        el("span", {}, e.label || e.text || ""));
      Object.assign(box.style, { left: `${100 * e.box.x}%`, top: `${100 * e.box.y}%`,
        width: `${100 * e.box.width}%`, height: `${100 * e.box.height}%` });
      return box;
    }));
  };
  media.addEventListener("timeupdate", draw);
  media.addEventListener("seeked", draw);
  draw();
}

// The thumbnails' sprite and WebVTT track as a scrubber: a slider picks the cue, the
// sprite's `#xywh` region of it is shown.
function scrubber(file) {
  const box = el("div", { class: "scrubber" });
  fetch(file.links.vtt).then((r) => r.text()).then((text) => {
    const cues = [...text.matchAll(/([\d:.]+) --> ([\d:.]+)\s+\S*#xywh=(\d+),(\d+),(\d+),(\d+)/g)]
      .map((m) => ({ start: m[1], x: +m[3], y: +m[4], w: +m[5], h: +m[6] }));
    if (!cues.length) return;
    const preview = el("div", { class: "preview", role: "img" });
    const slider = el("input", { type: "range", min: "0", max: String(cues.length - 1), value: "0",
      "aria-label": "Scrub the thumbnails" });
    const show = () => {
      const cue = cues[Number(slider.value)];
      Object.assign(preview.style, { width: `${cue.w}px`, height: `${cue.h}px`,
        backgroundImage: `url("${file.links.sprite}")`, backgroundPosition: `-${cue.x}px -${cue.y}px` });
      preview.setAttribute("aria-label", `Thumbnail at ${cue.start}`);
      preview.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
    };
    slider.addEventListener("input", show);
    show();
    box.append(preview, slider);
  });
  return box;
}

// A click on a transcript's line plays the input from there.
function seek(seconds) {
  const player = $("#detail-input video, #detail-input audio");
  if (!player) return;
  player.currentTime = seconds;
  player.play().catch(() => {});
}

// One file object as a person would look at it: played, shown, or read.
function render(file) {
  const url = file.url;
  const type = file.type || file.mimetype || "";
  const refresh = () => refreshDetail(true); // an expired link is fetched again, not shown broken
  if (type === "application/vnd.apple.mpegurl") return hlsPlayer(url);
  if (type.startsWith("video/")) return el("video", { src: url, controls: "", onerror: refresh });
  if (type.startsWith("audio/")) return el("audio", { src: url, controls: "", onerror: refresh });
  if (type.startsWith("image/")) return el("img", { src: url, alt: file.filename, onerror: refresh });
  const box = el("div", {}, el("a", { href: url }, file.filename));
  if (file.links?.sprite && file.links?.vtt) box.append(scrubber(file));
  if (type.includes("json") || type.startsWith("text/")) {
    fetch(url).then((r) => r.text()).then((text) => box.append(readable(text, type)));
  }
  return box;
}

function readable(text, type) {
  if (!type.includes("json")) return el("pre", {}, text);
  const data = JSON.parse(text);
  if (Array.isArray(data.timeline) && data.timeline.some((e) => e.text && e.index !== undefined)) {
    return el("p", { class: "transcript" }, ...data.timeline.map((e) =>
      el("button", { type: "button", class: "line", title: `${e.start} s`,
        onclick: () => seek(e.start) }, e.text)));
  }
  return el("pre", {}, JSON.stringify(data, null, 2));
}

function hlsPlayer(url) {
  const video = el("video", { controls: "", muted: "" });
  video.muted = true;
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls();
    hls.loadSource(url);
    hls.attachMedia(video);
  } else {
    video.src = url; // Safari plays HLS itself
  }
  return video;
}

// -- uploading and creating ---------------------------------------------------------------

function upload(file) {
  $("#upload-error").textContent = "";
  $("#upload-result").textContent = `Uploading ${file.name}…`;
  const request = new XMLHttpRequest();
  request.open("POST", `/files?filename=${encodeURIComponent(file.name)}`);
  request.setRequestHeader("Authorization", `Bearer ${state.key}`);
  request.setRequestHeader("Accept-Version", "2024-08-21");
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) $("#upload-progress").value = (100 * event.loaded) / event.total;
  };
  request.onload = () => {
    const body = JSON.parse(request.responseText || "{}");
    if (request.status >= 400) {
      $("#upload-error").textContent = `${body.error?.code}: ${body.error?.message}`;
      $("#upload-result").textContent = "";
      return;
    }
    $("#upload-progress").value = 100;
    $("#upload-result").textContent = `Uploaded ${body.data.filename} as ${body.data.id} (${body.data.kind || "not media"}).`;
    $("#create-input").value = body.data.id;
    $("#run-input").value = body.data.id;
  };
  request.onerror = () => { $("#upload-error").textContent = "The upload failed: the API is unreachable."; };
  request.send(file);
}

// The form is built from the kinds' option models in /openapi.json, never written per kind.
async function loadKinds() {
  const schema = await api("/openapi.json");
  const components = schema.components.schemas;
  state.kinds = components.TaskCreate.properties.kind.anyOf[0].enum;
  for (const kind of state.kinds) state.options[kind] = components[`${kind}Options`] || { properties: {} };
  const kinds = state.kinds.map((kind) => el("option", { value: kind }, kind));
  $("#create-kind").replaceChildren(...kinds);
  $("#filter-kind").replaceChildren(el("option", { value: "" }, "any"),
    ...state.kinds.map((kind) => el("option", { value: kind }, kind)));
  buildOptions();
}

function buildOptions() {
  const model = state.options[$("#create-kind").value];
  const fields = Object.entries(model.properties || {}).map(([name, field]) => {
    const id = `option-${name}`;
    const choices = field.enum || field.anyOf?.find((a) => a.enum)?.enum;
    const numeric = [field.type, ...(field.anyOf || []).map((a) => a.type)]
      .some((t) => t === "integer" || t === "number");
    const input = choices
      ? el("select", { id, name }, el("option", { value: "" }, "default"),
        ...choices.map((c) => el("option", { value: c }, c)))
      : el("input", { id, name, type: numeric ? "number" : "text", step: "any",
        placeholder: field.default !== undefined && field.default !== null ? String(field.default) : "" });
    if (numeric) input.dataset.numeric = "1";
    return el("div", {}, el("label", { for: id }, name), input);
  });
  $("#create-options").replaceChildren(el("legend", {}, "Options"), ...fields);
}

async function createTask(event) {
  event.preventDefault();
  $("#create-error").textContent = "";
  const input = $("#create-input").value.trim();
  const body = { kind: $("#create-kind").value,
    ...(input.startsWith("file_") ? { file_id: input } : { url: input }) };
  for (const field of $("#create-options").querySelectorAll("input, select")) {
    if (field.value !== "") body[field.name] = field.dataset.numeric ? Number(field.value) : field.value;
  }
  try {
    const { data } = await api("/tasks", { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" } });
    show("tasks");
    await openDetail(data.id);
  } catch (error) {
    $("#create-error").textContent = `${error.code}: ${error.message}`;
  }
}

// -- workflows ------------------------------------------------------------------------------

async function loadAutomations() {
  const { data } = await api("/automations?limit=100");
  $("#run-automation").replaceChildren(el("option", { value: "" }, "the workflow below"),
    ...data.map((a) => el("option", { value: a.id }, `${a.name || a.id} (${a.status})`)));
}

async function runWorkflow(event) {
  event.preventDefault();
  $("#run-error").textContent = "";
  $("#run-view").replaceChildren();
  state.watching = null;
  const fileId = $("#run-input").value.trim();
  const automation = $("#run-automation").value;
  const init = { method: "POST", headers: { "Content-Type": "application/json" } };
  try {
    let answer;
    if (automation) {
      answer = await api(`/automations/${encodeURIComponent(automation)}/run`,
        { ...init, body: JSON.stringify({ file_id: fileId }) });
    } else {
      let workflow;
      try { workflow = JSON.parse($("#run-workflow").value); } catch (error) {
        throw new ApiError(0, "invalid_request", `workflow: not JSON (${error.message})`);
      }
      answer = await api("/runs", { ...init, body: JSON.stringify({ workflow, file_id: fileId }) });
    }
    state.watching = answer.data.id;
    watchRun(answer.data.id);
  } catch (error) {
    $("#run-error").textContent = `${error.code}: ${error.message}`;
  }
}

// The run's steps as a tree, polled until the run ends.
async function watchRun(id) {
  if (state.watching !== id) return; // another run took the panel
  const { data: run } = await api(`/runs/${encodeURIComponent(id)}`);
  if (state.watching !== id) return;
  const steps = (list) => el("ul", {}, ...list.map((step) => el("li", { "data-status": step.status },
    `${step.step}: ${step.kind} — ${step.status}`,
    step.task_id ? el("button", { type: "button", onclick: () => { show("tasks"); openDetail(step.task_id); } },
      step.task_id) : null,
    step.error ? ` (${step.error.code}: ${step.error.message})` : null,
    step.next?.length ? steps(step.next) : null)));
  $("#run-view").replaceChildren(el("p", { "data-status": run.status, class: "run-status" },
    `Run ${run.id}: ${run.status}`), steps(run.steps));
  if (run.status === "processing") setTimeout(() => watchRun(id), POLL_MS);
}

// -- the cluster ----------------------------------------------------------------------------

async function refreshCluster() {
  const text = await api("/metrics");
  const samples = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^(strobe_[a-z_]+)(?:\{([^}]*)\})?\s+([0-9.eE+-]+)$/);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] || "").matchAll(/(\w+)="([^"]*)"/g)]
      .map((m) => [m[1], m[2]]));
    (samples[match[1]] ||= []).push({ labels, value: Number(match[3]) });
  }
  const total = (name) => (samples[name] || []).reduce((sum, s) => sum + s.value, 0);
  $("#cluster-summary").replaceChildren(
    el("dt", {}, "Workers"), el("dd", {}, String(total("strobe_workers"))),
    el("dt", {}, "Queue depth"), el("dd", {}, String(total("strobe_queue_depth"))),
    el("dt", {}, "Longest running task"),
    el("dd", {}, `${total("strobe_oldest_running_task_seconds").toFixed(0)} s`));
  const byKind = (name, kind) => (samples[name] || []).filter((s) => s.labels.kind === kind)
    .reduce((sum, s) => sum + s.value, 0);
  const rows = state.kinds.map((kind) => {
    const waiting = byKind("strobe_tasks_waiting", kind);
    const history = (state.depth[kind] ||= []);
    history.push(waiting + byKind("strobe_tasks_processing", kind));
    if (history.length > HISTORY) history.shift();
    return el("tr", { "data-kind": kind }, el("th", { scope: "row" }, kind),
      el("td", {}, String(waiting)), el("td", {}, String(byKind("strobe_tasks_processing", kind))),
      el("td", {}, String(byKind("strobe_actors", kind))), el("td", {}, sparkline(history, kind)));
  });
  $("#queue tbody").replaceChildren(...rows);
}

function sparkline(values, kind) {
  const top = Math.max(1, ...values);
  const points = values.map((v, i) => `${i * (120 / HISTORY)},${20 - (18 * v) / top}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 120 20");
  svg.setAttribute("width", "120");
  svg.setAttribute("height", "20");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${kind}: ${values.at(-1)} waiting or running now`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#2f6fed");
  svg.append(line);
  return svg;
}

// -- wiring -------------------------------------------------------------------------------

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  logIn($("#key").value.trim());
});
$("#logout").addEventListener("click", logOut);
for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => show(button.dataset.view));
}
for (const name of ["kind", "status", "sort", "order"]) {
  $(`#filter-${name}`).addEventListener("change", refreshTasks);
}
$("#detail-close").addEventListener("click", () => { state.detail = null; $("#detail").hidden = true; });
$("#create-kind").addEventListener("change", buildOptions);
$("#create").addEventListener("submit", createTask);
$("#run").addEventListener("submit", runWorkflow);
const drop = $("#drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
});
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("#file").click(); }
});
$("#file").addEventListener("change", () => { if ($("#file").files.length) upload($("#file").files[0]); });
if (state.key) logIn(state.key);
