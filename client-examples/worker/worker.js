// An annotator's queue (see index.html for how to run it): the viewer's active tasks (myTasks),
// one task opened with its image URL, instructions and issues, and the four things a worker
// does: save, submit, skip with an issue, read the issues raised on their assets.
// Each query asks only for the fields this page shows. Every change sends the task's `version`
// as read (`expectedVersion`): when someone changed the task meanwhile, the server refuses with
// CONFLICT and changes nothing; the page says so and reloads the task.
"use strict";

// The API of the server that serves this page. To host the page elsewhere, put the API's URL here,
// add its origin to the Content-Security-Policy of index.html and to STEPWISE_ALLOWED_ORIGINS.
const GRAPHQL_URL = new URL("/graphql", location.href).href;
const TOKEN_KEY = "stepwise.worker.token";

const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token errors { code message } } }`;
const LOG_OUT = `mutation LogOut { logOut { revoked errors { code message } } }`;
const ORGANIZATIONS = `query Organizations { me { username } organizations { id name } }`;
const QUEUE = `query Queue($org: ID!) {
  myTasks(organizationId: $org) {
    campaign { id }
    datasetVersion { name dataset { name } labels { name } }
    tasks { id status step { name } asset { filename } openIssueCount } }
  myIssues(organizationId: $org, status: OPEN) { id kind asset { filename } comments { body } } }`;
const TASK = `query Task($id: ID!) {
  task(id: $id) {
    id version status
    step { name type }
    asset { filename width height url }
    campaign { id instructions { filename url } }
    annotation { shapes { kind label { name } points { x y } } }
    issues { id kind status author { username } comments { author { username } action body } } } }`;
const TASK_RESULT = `task { id version status } errors { code message field }`;
const SAVE = `mutation Save($input: SaveAnnotationInput!) { saveAnnotation(input: $input) { ${TASK_RESULT} } }`;
const SUBMIT = `mutation Submit($input: SubmitTaskInput!) { submitTask(input: $input) { ${TASK_RESULT} } }`;
const SKIP = `mutation Skip($input: SkipTaskInput!) { skipTask(input: $input) { ${TASK_RESULT} } }`;

const $ = (selector) => document.querySelector(selector);
const state = { token: sessionStorage.getItem(TOKEN_KEY), organization: null, labels: new Map(), task: null, openedAt: 0 };

class ApiError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.extensions?.code ?? error.code;
  }
}

async function graphql(query, variables = {}) {
  const headers = { "content-type": "application/json" };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const response = await fetch(GRAPHQL_URL, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  if (body.errors?.length) throw new ApiError(body.errors[0]);
  return body.data;
}

function say(text, kind = "info") { const el = $("#message"); el.textContent = text; el.dataset.kind = kind; }
function element(tag, properties = {}, ...children) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

// --- signing in -----------------------------------------------------------------------------

async function logIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#login-error").textContent = "";
  try {
    const { logIn } = await graphql(LOG_IN, { input: { username: form.get("username"), password: form.get("password") } });
    if (logIn.errors.length) return void ($("#login-error").textContent = logIn.errors.map((e) => e.message).join(" "));
    state.token = logIn.token;
    sessionStorage.setItem(TOKEN_KEY, logIn.token);
    await start();
  } catch (error) {
    $("#login-error").textContent = error.message;
  }
}

function signedOut(reason = "") {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  [$("#work"), $("#picker"), $("#log-out")].forEach((el) => (el.hidden = true));
  $("#who").textContent = "";
  $("#login").hidden = false;
  $("#login-error").textContent = reason;
}

async function start() {
  let data;
  try {
    data = await graphql(ORGANIZATIONS);
  } catch (error) {
    return signedOut(error.code === "UNAUTHENTICATED" ? "Your session ended: sign in again." : error.message);
  }
  if (!data.me) return signedOut();
  $("#login").hidden = true;
  $("#log-out").hidden = false;
  $("#who").textContent = `Signed in as ${data.me.username}`;
  const select = $("#organization");
  select.replaceChildren(...data.organizations.map((o) => new Option(o.name, o.id)));
  if (!data.organizations.length) return say("You belong to no organization yet.");
  $("#picker").hidden = data.organizations.length < 2;
  $("#work").hidden = false;
  state.organization = select.value;
  await loadQueue();
}

// --- the queue ------------------------------------------------------------------------------

async function loadQueue() {
  let myTasks, myIssues;
  try {
    ({ myTasks, myIssues } = await graphql(QUEUE, { org: state.organization }));
  } catch (error) {
    return error.code === "UNAUTHENTICATED" ? signedOut("Your session ended: sign in again.") : say(error.message, "error");
  }
  const count = myTasks.reduce((sum, group) => sum + group.tasks.length, 0);
  $("#queue-count").textContent = `(${count})`;
  state.labels = new Map(myTasks.map((group) => [group.campaign.id, group.datasetVersion.labels.map((l) => l.name)]));
  $("#groups").replaceChildren(...myTasks.map((group) => element("div", {},
    element("h3", { textContent: `${group.datasetVersion.dataset.name} / ${group.datasetVersion.name}` }),
    element("ul", {}, ...group.tasks.map((task) => {
      const item = element("li", { className: task.id === state.task?.id ? "current" : "" });
      item.dataset.task = task.id;
      const issues = task.openIssueCount ? ` · ${task.openIssueCount} open issue(s)` : "";
      item.append(element("button", { type: "button", textContent: task.asset.filename, onclick: () => openTask(task.id) }),
        ` ${task.status} at ${task.step.name}${issues}`);
      return item;
    })))));
  if (!count) $("#groups").append(element("p", { className: "muted", textContent: "Nothing to do: your queue is empty." }));
  $("#issue-list").replaceChildren(...myIssues.map((issue) =>
    element("li", { textContent: `${issue.asset.filename}: ${issue.kind} — ${issue.comments[0]?.body ?? ""}` })));
}

// --- one task -------------------------------------------------------------------------------

async function openTask(taskId) {
  let task;
  try {
    ({ task } = await graphql(TASK, { id: taskId }));
  } catch (error) {
    if (error.code !== "NOT_FOUND") return say(error.message, "error");
  }
  if (!task) {  // done, skipped or given to someone else meanwhile
    say("This task is no longer in your queue.", "error");
    return closeTask();
  }
  state.task = task;
  state.openedAt = performance.now();
  $("#task").hidden = false;
  $("#task-title").textContent = task.asset.filename;
  $("#task-meta").textContent = `${task.status} at ${task.step.name} (${task.step.type}), version ${task.version}, ` +
    `${task.asset.width}×${task.asset.height} px`;
  $("#task").dataset.version = task.version;
  const link = $("#image-link");
  link.textContent = task.asset.url ?? "no image URL";
  link.href = task.asset.url ?? "#";
  $("#image").src = task.asset.url ?? "";
  $("#image").alt = task.asset.filename;
  $("#instructions").hidden = !task.campaign.instructions;
  $("#shapes tbody").replaceChildren(...(task.annotation?.shapes ?? []).map(shapeRow));
  $("#task-issues").replaceChildren(...task.issues.map((issue) => element("li", {
    textContent: `${issue.status} ${issue.kind} by ${issue.author.username}: ` +
      issue.comments.map((c) => `${c.author.username}: ${c.body}`).join(" / "),
  })));
  document.querySelectorAll("#groups li").forEach((li) => li.classList.toggle("current", li.dataset.task === task.id));
}

// Rectangles are edited as two corners; other kinds are kept as they are (shown, removable).
function shapeRow(shape) {
  const row = element("tr");
  row.shape = shape;
  const labels = state.labels.get(state.task.campaign.id) ?? [shape.label.name];
  const label = element("select", { name: "label" }, ...labels.map((name) => new Option(name, name)));
  label.value = shape.label.name;
  const [a = { x: 0, y: 0 }, b = { x: 0, y: 0 }] = shape.points;
  const number = (name, value) => element("input", { type: "number", name, value, step: "any", min: 0 });
  const corners = shape.kind === "RECTANGLE"
    ? [number("x1", a.x), number("y1", a.y), number("x2", b.x), number("y2", b.y)].map((input) => element("td", {}, input))
    : [element("td", { colSpan: 4, className: "muted", textContent: `${shape.points.length} point(s)` })];
  row.append(element("td", {}, label), element("td", { textContent: shape.kind }), ...corners,
    element("td", {}, element("button", { type: "button", textContent: "Remove", onclick: () => row.remove() })));
  return row;
}

function addBox() {
  const { width, height } = state.task.asset;
  const labels = state.labels.get(state.task.campaign.id) ?? [];
  if (!labels.length) return say("The dataset version has no labels.", "error");
  $("#shapes tbody").append(shapeRow({ kind: "RECTANGLE", label: { name: labels[0] },
    points: [{ x: Math.round(width / 4), y: Math.round(height / 4) }, { x: Math.round(width / 2), y: Math.round(height / 2) }] }));
}

function shapesOnPage() {
  return [...document.querySelectorAll("#shapes tbody tr")].map((row) => {
    const value = (name) => Number(row.querySelector(`[name=${name}]`).value);
    const points = row.shape.kind === "RECTANGLE"
      ? [{ x: value("x1"), y: value("y1") }, { x: value("x2"), y: value("y2") }]
      : row.shape.points.map(({ x, y }) => ({ x, y }));
    return { label: row.querySelector("[name=label]").value, kind: row.shape.kind, points };
  });
}

// One change to the task: the version as read goes with it; CONFLICT reloads the task.
async function change(mutation, field, input, done) {
  const task = state.task;
  let payload;
  try {
    payload = (await graphql(mutation, { input: { taskId: task.id, expectedVersion: task.version, ...input } }))[field];
  } catch (error) {
    return say(error.message, "error");
  }
  const [error] = payload.errors;
  if (error?.code === "CONFLICT") {
    await openTask(task.id);
    if (!state.task) return; // gone from the queue: openTask said so
    return say("Someone changed this task after you opened it, so nothing was changed. " +
      "It has been reloaded with their changes: check it, then try again.", "conflict");
  }
  if (error) return say(`${error.code}: ${error.message}${error.field ? ` (${error.field})` : ""}`, "error");
  await done(payload.task);
}

async function save() {
  await change(SAVE, "saveAnnotation", { shapes: shapesOnPage() }, async (task) => {
    state.task.version = task.version;
    $("#task").dataset.version = task.version;
    say(`Saved ${state.task.asset.filename} (version ${task.version}).`);
  });
}

async function submit() {
  const activeSeconds = (performance.now() - state.openedAt) / 1000;
  await change(SUBMIT, "submitTask", { shapes: shapesOnPage(), activeSeconds }, async () => {
    say(`Submitted ${state.task.asset.filename}.`);
    await closeTask();
  });
}

async function skip(event) {
  event.preventDefault();
  const body = new FormData(event.target).get("body");
  await change(SKIP, "skipTask", { issue: { kind: "IMAGE", body } }, async () => {
    event.target.reset();
    say(`Skipped ${state.task.asset.filename}; the issue is raised.`);
    await closeTask();
  });
}

async function closeTask() {
  state.task = null;
  $("#task").hidden = true;
  await loadQueue();
}

// The instructions download needs the same bearer token as the API: fetch, then open the PDF.
async function openInstructions() {
  const { url, filename } = state.task.campaign.instructions;
  const response = await fetch(new URL(url, location.href), { headers: { authorization: `Bearer ${state.token}` } });
  if (!response.ok) return say(`The instructions could not be downloaded (HTTP ${response.status}).`, "error");
  const link = element("a", { href: URL.createObjectURL(await response.blob()), download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // once the download has surely started
}

// --- wiring ---------------------------------------------------------------------------------

$("#login").addEventListener("submit", logIn);
$("#organization").addEventListener("change", async (event) => { state.organization = event.target.value; await closeTask(); });
$("#log-out").addEventListener("click", async () => { await graphql(LOG_OUT).catch(() => {}); signedOut(); });
$("#add-box").addEventListener("click", addBox);
$("#save").addEventListener("click", save);
$("#submit").addEventListener("click", submit);
$("#skip").addEventListener("submit", skip);
$("#instructions").addEventListener("click", openInstructions);
if (state.token) start(); else signedOut();
