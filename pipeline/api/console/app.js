// Strobe's web console: the API's own routes, called with the key kept in sessionStorage.
const $ = (selector) => document.querySelector(selector);
const KEY = "strobe.key";
const POLL_MS = 2000;
const HISTORY = 150; // queue-depth samples kept per kind: five minutes at one per poll

const REFRESH_GAP_MS = 5000; // a link that fails again this soon after a refresh is shown as failed

const state = { key: sessionStorage.getItem(KEY), view: "tasks", detail: null, timer: null,
  round: 0, kinds: [], options: {}, depth: {}, offline: false, refreshed: 0,
  held: new Map() }; // path -> {etag, body}: the last answer of each polled read

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// `keep`: a polled read. The answer is kept with its ETag, and the next read of the same path
// sends `If-None-Match`: a 304 (nothing changed) costs no body and returns the kept answer.
// `fresh` reads it whole again (links that failed to load are signed anew).
async function api(path, { keep = false, fresh = false, ...init } = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, "Accept-Version": "2024-08-21",
    ...(init.headers || {}) };
  const kept = keep && !fresh ? state.held.get(path) : undefined;
  if (kept) headers["If-None-Match"] = kept.etag;
  let response;
  try {
    // no-store: the 304 reaches this code, not the browser's cache.
    response = await fetch(path, { ...init, headers, cache: keep ? "no-store" : init.cache });
  } catch (failure) {
    connection(false);
    throw new ApiError(0, "unreachable", "the API is unreachable");
  }
  connection(true);
  if (response.status === 304 && kept) return kept.body;
  const json = (response.headers.get("content-type") || "").includes("json");
  const body = json ? await response.json() : await response.text();
  if (!response.ok) {
    const error = (json && body.error) || {};
    throw new ApiError(response.status, error.code || "http_error",
      error.message || `HTTP ${response.status}`);
  }
  const etag = response.headers.get("etag");
  if (keep && etag) state.held.set(path, { etag, body });
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
  for (const name of ["tasks", "new", "automations", "cluster"]) {
    $(`#view-${name}`).hidden = name !== view;
  }
  if (view === "new") loadAutomations().catch(() => {});
  if (view === "automations") listAutomations().catch(() => {});
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
  const { data } = await api(`/tasks?${query}`, { keep: true });
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
    // Ray node ids are 56 hex digits: the first 12 tell nodes apart, the tooltip has it all.
    el("td", { title: task.ran_on || "" }, task.ran_on ? task.ran_on.slice(0, 12) : "—"),
    el("td", {}, cancel));
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
  state.refreshed = 0;
  $("#detail-title").textContent = "Loading…";
  $("#detail").dataset.id = "";
  $("#detail").hidden = false;
  await refreshDetail(true);
  $("#detail-title").focus?.();
}

async function refreshDetail(full) {
  const { data: task } = await api(`/tasks/${encodeURIComponent(state.detail)}`,
    { keep: true, fresh: full });
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
    fetched(task.output.url).then((r) => r.json()).then((data) => {
      drawBoxes(data.timeline || []);
      detectionStrip(data.timeline || []);
    }).catch(() => {});
  }
  const player = $("#detail-input video, #detail-input audio");
  const vtt = task.status === "ready" && (task.output.type || task.output.mimetype) === "text/vtt";
  if (player && vtt && ["subtitles", "chapters"].includes(task.kind)) {
    // Subtitles and chapters as tracks on the input's player: subtitles shown over it,
    // chapters loaded (hidden) so the player and the cue list below can use them.
    const track = el("track", { kind: task.kind, src: task.output.url, default: "",
      label: task.kind, srclang: task.options?.language || "und", onerror: refreshBroken });
    player.append(track);
    track.track.mode = task.kind === "subtitles" ? "showing" : "hidden";
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
      || (t >= (e.start ?? 0) && t <= (e.end ?? e.start ?? 0))));
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

// A video's detections on a strip under it, a lane per label: each mark spans the time its
// object was seen; a click shows the frame where it was seen best, with its box.
function detectionStrip(timeline) {
  const video = $("#detail-input video");
  const seen = timeline.filter((e) => e.start !== undefined);
  if (!video || !seen.length) return;
  const strip = el("div", { class: "strip", role: "group", "aria-label": "Detections over time" });
  const place = () => {
    const duration = video.duration || Math.max(1, ...seen.map((e) => e.end ?? e.start));
    const lanes = new Map();
    for (const e of seen.slice(0, 500)) {
      const label = e.label || e.text || "";
      if (!lanes.has(label)) lanes.set(label, []);
      lanes.get(label).push(el("button", { type: "button", class: "mark",
        "data-start": String(e.start), "aria-label": `${label} at ${clock(e.start)}`,
        title: `${label} ${e.start}–${e.end} s`,
        onclick: () => { video.currentTime = e.frame ?? e.start; } }));
      Object.assign(lanes.get(label).at(-1).style, { left: `${(100 * e.start) / duration}%`,
        width: `${Math.max(1, (100 * ((e.end ?? e.start) - e.start)) / duration)}%` });
    }
    strip.replaceChildren(...[...lanes].map(([label, marks]) => el("div", { class: "lane" },
      el("span", { class: "lane-label" }, label), el("div", { class: "lane-track" }, ...marks))));
  };
  video.addEventListener("loadedmetadata", place);
  place();
  (video.closest(".stage") || video).after(strip);
}

// The thumbnails' sprite and WebVTT track as a scrubber: a slider picks the cue, the
// sprite's `#xywh` region of it is shown.
function scrubber(file) {
  const box = el("div", { class: "scrubber" });
  const sprite = new Image(); // the sprite is a CSS background: its failure has no event
  sprite.onerror = refreshBroken;
  sprite.src = file.links.sprite;
  fetched(file.links.vtt).then((r) => r.text()).then((text) => {
    const cues = parseVtt(text).map((cue) => {
      const [x, y, w, h] = (cue.text.match(/#xywh=(\d+),(\d+),(\d+),(\d+)/) || []).slice(1).map(Number);
      return { start: clock(cue.start), x, y, w, h };
    }).filter((cue) => cue.w !== undefined);
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

// A link that fails to load has most often expired (a tab left open past STROBE_URL_TTL_S):
// the task is read again, whole, which signs its links anew. Once per REFRESH_GAP_MS, so a
// link that is broken for another reason is said to be, not fetched in a loop.
function refreshBroken() {
  if (!state.detail) return;
  if (Date.now() - state.refreshed < REFRESH_GAP_MS) {
    $("#detail-error").textContent = "An output could not be loaded, even with fresh links.";
    return;
  }
  state.refreshed = Date.now();
  // The players start again where they were.
  const times = players().map((player) => player?.currentTime || 0);
  refreshDetail(true).then(() => {
    players().forEach((player, i) => { if (player && times[i]) resumeAt(player, times[i]); });
  }).catch(() => {});
}

// The detail's input and output players (null where a side has none).
function players() {
  return ["input", "output"].map((side) => $(`#detail-${side} video, #detail-${side} audio`));
}

function resumeAt(player, seconds) {
  if (player.readyState >= 1) player.currentTime = seconds;
  else player.addEventListener("loadedmetadata", () => { player.currentTime = seconds; }, { once: true });
}

// fetch() of an output's link; a failed answer asks for fresh links.
async function fetched(url) {
  const response = await fetch(url);
  if (!response.ok) {
    refreshBroken();
    throw new Error(`HTTP ${response.status}`);
  }
  return response;
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
  const refresh = refreshBroken; // an expired link is signed again, not shown broken
  if (type === "application/vnd.apple.mpegurl") return hlsPlayer(url);
  if (type.startsWith("video/")) return el("video", { src: url, controls: "", onerror: refresh });
  if (type.startsWith("audio/")) return el("audio", { src: url, controls: "", onerror: refresh });
  if (type.startsWith("image/")) return el("img", { src: url, alt: file.filename, onerror: refresh });
  const box = el("div", {}, el("a", { href: url }, file.filename));
  if (file.links?.sprite && file.links?.vtt) {
    box.append(scrubber(file));
  } else if (type.includes("json") || type.startsWith("text/")) {
    fetched(url).then((r) => r.text()).then((text) => box.append(readable(text, type)))
      .catch(() => {});
  }
  return box;
}

function readable(text, type) {
  if (type === "text/vtt") return cueList(parseVtt(text));
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
    // 30 s ahead at most, whatever the bitrate: a console viewer often watches a few seconds.
    const hls = new window.Hls({ maxBufferLength: 30, maxMaxBufferLength: 30 });
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      // hls.js retries a refused segment with backoff; a refused link will not come good.
      if (data.fatal || [401, 403].includes(data.response?.code)) {
        refreshBroken(); // first: it notes where the player was
        hls.destroy();
      }
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else {
    video.src = url; // Safari plays HLS itself
    video.addEventListener("error", refreshBroken);
  }
  return video;
}

// WebVTT cues: {start, end} in seconds, the text, and the timing line's `#xywh` if any.
function parseVtt(text) {
  const seconds = (stamp) => stamp.split(":").reduce((total, part) => total * 60 + Number(part), 0);
  return text.replace(/\r/g, "").split(/\n\n+/).map((block) => {
    const lines = block.split("\n");
    const at = lines.findIndex((line) => line.includes("-->"));
    if (at < 0) return null;
    const [start, end] = lines[at].split("-->").map((part) => part.trim().split(/\s+/)[0]);
    return { start: seconds(start), end: seconds(end), text: lines.slice(at + 1).join("\n").trim() };
  }).filter(Boolean);
}

function clock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// Subtitles and chapters read out as a list; a click plays the input from that cue.
function cueList(cues) {
  return el("ol", { class: "cues" }, ...cues.map((cue) => el("li", {},
    el("button", { type: "button", class: "cue", "data-start": String(cue.start),
      onclick: () => seek(cue.start) }, `${clock(cue.start)} ${cue.text}`))));
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

// -- automations ---------------------------------------------------------------------------

const EXAMPLE_WORKFLOW = [{ kind: "image", width: 320, ref: "thumbnail" }];

function countSteps(steps) {
  return (steps || []).reduce((n, step) => n + 1 + countSteps(step.next), 0);
}

async function listAutomations() {
  const { data } = await api("/automations?limit=100");
  $("#automations-empty").hidden = data.length > 0;
  $("#automations tbody").replaceChildren(...data.map((a) => {
    const name = a.name || a.id;
    const pausing = a.status === "active";
    return el("tr", { "data-id": a.id, "data-status": a.status },
      el("td", {}, name), el("td", { class: "status" }, a.status),
      el("td", {}, String(countSteps(a.workflow))),
      el("td", {}, new Date(a.updated).toLocaleString()),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "edit", "aria-label": `Edit ${name}`,
          onclick: () => editAutomation(a) }, "Edit"),
        el("button", { type: "button", class: "toggle", "aria-label": `${pausing ? "Pause" : "Resume"} ${name}`,
          onclick: () => saveAutomation(a.id, { status: pausing ? "paused" : "active" }) },
        pausing ? "Pause" : "Resume"),
        el("button", { type: "button", class: "delete", "aria-label": `Delete ${name}`,
          onclick: () => deleteAutomation(a.id, name) }, "Delete")));
  }));
}

function editAutomation(automation) {
  $("#automation-id").value = automation?.id || "";
  $("#automation-title").textContent = automation ? `Edit ${automation.name || automation.id}` : "New automation";
  $("#automation-name").value = automation?.name || "";
  $("#automation-description").value = automation?.description || "";
  $("#automation-status").value = automation?.status || "active";
  $("#automation-workflow").value = JSON.stringify(automation?.workflow || EXAMPLE_WORKFLOW, null, 2);
  $("#automation-error").textContent = "";
  $("#automation-name").focus();
}

async function submitAutomation(event) {
  event.preventDefault();
  let workflow;
  try {
    workflow = JSON.parse($("#automation-workflow").value);
  } catch (error) {
    $("#automation-error").textContent = `invalid_request: workflow: not JSON (${error.message})`;
    return;
  }
  const body = { name: $("#automation-name").value.trim() || null,
    description: $("#automation-description").value.trim() || null,
    status: $("#automation-status").value, workflow };
  if (await saveAutomation($("#automation-id").value, body)) editAutomation(null);
}

// Creates (no id) or changes an automation; true when the API took it.
async function saveAutomation(id, body) {
  $("#automation-error").textContent = "";
  const path = id ? `/automations/${encodeURIComponent(id)}` : "/automations";
  try {
    const { data } = await api(path, { method: id ? "PATCH" : "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" } });
    $("#automation-saved").textContent = `Saved ${data.name || data.id} (${data.status}).`;
  } catch (error) {
    $("#automation-error").textContent = `${error.code}: ${error.message}`;
    return false;
  }
  await listAutomations();
  return true;
}

async function deleteAutomation(id, name) {
  if (!window.confirm(`Delete the automation ${name}? Runs already started finish.`)) return;
  try {
    await api(`/automations/${encodeURIComponent(id)}`, { method: "DELETE" });
    $("#automation-saved").textContent = `Deleted ${name}.`;
    if ($("#automation-id").value === id) editAutomation(null);
  } catch (error) {
    $("#automation-error").textContent = `${error.code}: ${error.message}`;
  }
  await listAutomations();
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
    el("dt", {}, "Ray nodes"), el("dd", { id: "ray-nodes" }, String(total("strobe_ray_nodes"))),
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
$("#automation").addEventListener("submit", submitAutomation);
$("#automation-new").addEventListener("click", () => editAutomation(null));
editAutomation(null);
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
