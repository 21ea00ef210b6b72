// The live campaign dashboard (see index.html for how to run it). How it stays live without
// losing or repeating anything (the "snapshot + eventCursor" pattern of the API):
//   1. one query reads the campaign's eventCursor together with the snapshot it shows
//      (progress, throughput, open issues);
//   2. taskUpdates and issueUpdates subscribe with `after: eventCursor`, and every update
//      received moves that stream's cursor to the update's own `cursor`;
//   3. when the websocket drops, graphql-ws reconnects and subscribes again, with the last
//      cursor: the server first sends what happened meanwhile, then goes on live.
"use strict";

// The API of the server that serves this page. To host the page elsewhere, put the API's URL here,
// add its origin to the Content-Security-Policy of index.html and to STEPWISE_ALLOWED_ORIGINS.
const GRAPHQL_URL = new URL("/graphql", location.href).href;
const WEBSOCKET_URL = GRAPHQL_URL.replace(/^http/, "ws");
const TOKEN_KEY = "stepwise.dashboard.token";
const FEED_LIMIT = 200; // the oldest lines go past this

const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token errors { code message } } }`;
const LOG_OUT = `mutation LogOut { logOut { revoked errors { code message } } }`;
const CAMPAIGNS = `query Campaigns {
  me { username }
  organizations { id name
    campaigns(first: 100) { edges { node { id status datasetVersion { name dataset { name } } } } } } }`;
const PROGRESS_FIELDS = `totalTasks inProgress toRework done skipped percent byStep { step { id name } count }`;
const ISSUE_FIELDS = `id kind status asset { filename } author { username } createdAt`;
// eventCursor first: the server reads it before the rest, so the snapshot misses nothing after it.
const SNAPSHOT = `query Snapshot($id: ID!, $range: DateRangeInput!) {
  campaign(id: $id) {
    eventCursor
    status
    progress { ${PROGRESS_FIELDS} }
    analytics(range: $range, granularity: HOUR) {
      throughput { annotationSubmissions { start count } reviewSubmissions { start count } } }
    issues(filter: { status: OPEN }, first: 500) { totalCount edges { node { ${ISSUE_FIELDS} } } } } }`;
const THROUGHPUT = `query Throughput($id: ID!, $range: DateRangeInput!) {
  campaign(id: $id) { analytics(range: $range, granularity: HOUR) {
    throughput { annotationSubmissions { start count } reviewSubmissions { start count } } } } }`;
const PROGRESS_UPDATES = `subscription Progress($id: ID!) { campaignProgress(campaignId: $id) { ${PROGRESS_FIELDS} } }`;
const TASK_UPDATES = `subscription Tasks($id: ID!, $after: String) {
  taskUpdates(campaignId: $id, after: $after) {
    cursor kind at actor { username } task { id version status asset { filename } step { name } assignee { username } } } }`;
const ISSUE_UPDATES = `subscription Issues($id: ID!, $after: String) {
  issueUpdates(campaignId: $id, after: $after) { cursor kind at actor { username } issue { ${ISSUE_FIELDS} } } }`;

const $ = (selector) => document.querySelector(selector);
const state = { token: sessionStorage.getItem(TOKEN_KEY), client: null, stop: [], openIssues: new Map(), throughputTimer: 0, opening: 0 };

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

function show(element, visible) { element.hidden = !visible; }
function say(text) { $("#message").textContent = text; }
function setConnection(stateName, text) { const el = $("#connection"); el.dataset.state = stateName; el.textContent = text; }
function time(iso) { return new Date(iso).toLocaleTimeString(); }
function last24Hours() {
  const to = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000); // the end of this hour
  return { from: new Date(to - 24 * 3_600_000).toISOString(), to: to.toISOString() };
}

// --- signing in -----------------------------------------------------------------------------

async function logIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  $("#login-error").textContent = "";
  try {
    const { logIn } = await graphql(LOG_IN, { input: { username: form.get("username"), password: form.get("password") } });
    if (logIn.errors.length) {
      $("#login-error").textContent = logIn.errors.map((e) => e.message).join(" ");
      return;
    }
    state.token = logIn.token;
    sessionStorage.setItem(TOKEN_KEY, logIn.token);
    await start();
  } catch (error) {
    $("#login-error").textContent = error.message;
  }
}

function signedOut(reason = "") {
  state.opening++; // a campaign still opening stays closed
  stopFollowing();
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  [$("#board"), $("#picker"), $("#log-out")].forEach((el) => show(el, false));
  $("#who").textContent = "";
  setConnection("idle", "");
  show($("#login"), true);
  $("#login-error").textContent = reason;
}

// --- choosing a campaign --------------------------------------------------------------------

async function start() {
  let data;
  try {
    data = await graphql(CAMPAIGNS);
  } catch (error) {
    return signedOut(error.code === "UNAUTHENTICATED" ? "Your session ended: sign in again." : error.message);
  }
  if (!data.me) return signedOut();
  show($("#login"), false);
  show($("#log-out"), true);
  $("#who").textContent = `Signed in as ${data.me.username}`;
  const select = $("#campaign");
  select.replaceChildren();
  for (const organization of data.organizations) {
    const group = document.createElement("optgroup");
    group.label = organization.name;
    for (const { node } of organization.campaigns.edges) {
      const version = node.datasetVersion;
      group.append(new Option(`${version.dataset.name} / ${version.name} (${node.status})`, node.id));
    }
    if (group.children.length) select.append(group);
  }
  if (!select.options.length) return say("No campaign yet in your organizations.");
  show($("#picker"), true);
  const remembered = new URLSearchParams(location.hash.slice(1)).get("campaign");
  if (remembered && [...select.options].some((o) => o.value === remembered)) select.value = remembered;
  await openCampaign(select.value);
}

// --- the snapshot, then the live streams ----------------------------------------------------

async function openCampaign(campaignId) {
  stopFollowing();
  say("");
  history.replaceState(null, "", `#campaign=${encodeURIComponent(campaignId)}`);
  const opening = ++state.opening; // a quicker later choice wins over this one
  let campaign;
  try {
    ({ campaign } = await graphql(SNAPSHOT, { id: campaignId, range: last24Hours() }));
  } catch (error) {
    if (opening !== state.opening) return;
    return say(error.code === "FORBIDDEN" ? "Only the campaign's managers and contributors see its dashboard." : error.message);
  }
  if (opening !== state.opening) return;
  show($("#board"), true);
  $("#feed-list").replaceChildren();
  renderProgress(campaign.progress);
  renderThroughput(campaign.analytics.throughput);
  state.openIssues = new Map(campaign.issues.edges.map(({ node }) => [node.id, node]));
  renderIssues();
  follow(campaignId, campaign.eventCursor);
}

function follow(campaignId, eventCursor) {
  // A client disposed of (another campaign, signed out) may still report its closing: ignore it.
  const current = (handler) => (...args) => client === state.client && handler(...args);
  const client = graphqlWs.createClient({
    url: WEBSOCKET_URL,
    connectionParams: () => ({ Authorization: `Bearer ${state.token}` }),
    // Never give up on a dropped connection; wait a little longer after each failed attempt.
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 8000))),
    keepAlive: 15_000,
    on: {
      connecting: current((isRetry) => setConnection("reconnecting", isRetry ? "reconnecting…" : "connecting…")),
      connected: current(() => setConnection("live", "live")),
      closed: current(() => setConnection("reconnecting", "connection lost, reconnecting…")),
    },
  });
  state.client = client;
  state.stop.push(subscribe(PROGRESS_UPDATES, { id: campaignId }, (data) => renderProgress(data.campaignProgress)));
  state.stop.push(resumable(TASK_UPDATES, campaignId, eventCursor, "taskUpdates", showTaskUpdate));
  state.stop.push(resumable(ISSUE_UPDATES, campaignId, eventCursor, "issueUpdates", showIssueUpdate));
}

function subscribe(query, variables, onData, payload = { query, variables }) {
  return state.client.subscribe(payload, {
    next: ({ data, errors }) => (errors?.length ? streamFailed(new ApiError(errors[0])) : onData(data)),
    error: streamFailed,
    complete: () => {},
  });
}

// A stream that resumes where it stopped. graphql-ws sends this same payload object again each
// time it reconnects, so keeping each update's cursor in its variables is all it takes.
function resumable(query, campaignId, eventCursor, field, onUpdate) {
  const payload = { query, variables: { id: campaignId, after: eventCursor } };
  return subscribe(query, null, (data) => {
    const update = data[field];
    payload.variables.after = update.cursor;
    onUpdate(update);
  }, payload);
}

function streamFailed(error) {
  if (error?.code === 4401 || error?.code === "UNAUTHENTICATED") return signedOut("Your session ended: sign in again.");
  setConnection("closed", "stopped");
  say(`Live updates stopped: ${error?.message || error?.reason || "the server closed the connection"}. Reload the page to try again.`);
}

function stopFollowing() {
  state.stop.splice(0).forEach((unsubscribe) => unsubscribe());
  state.client?.dispose();
  state.client = null;
  clearTimeout(state.throughputTimer);
}

// --- rendering ------------------------------------------------------------------------------

function renderProgress(progress) {
  $("#percent").textContent = `${progress.percent.toFixed(1)}%`;
  $("#percent-bar").style.width = `${progress.percent}%`;
  const counters = [["Tasks", progress.totalTasks], ["In progress", progress.inProgress], ["To rework", progress.toRework],
    ["Done", progress.done], ["Skipped", progress.skipped]];
  $("#counters").replaceChildren(...counters.map(([name, value]) => {
    const item = document.createElement("div");
    item.dataset.counter = name;
    item.append(Object.assign(document.createElement("dt"), { textContent: name }),
      Object.assign(document.createElement("dd"), { textContent: value }));
    return item;
  }));
  $("#steps tbody").replaceChildren(...progress.byStep.map(({ step, count }) => {
    const row = document.createElement("tr");
    row.dataset.step = step.name;
    row.append(Object.assign(document.createElement("td"), { textContent: step.name }),
      Object.assign(document.createElement("td"), { textContent: count, className: "count" }));
    return row;
  }));
}

function renderThroughput({ annotationSubmissions, reviewSubmissions }) {
  const svg = $("#chart");
  const ns = "http://www.w3.org/2000/svg";
  const buckets = annotationSubmissions.map((bucket, i) => [bucket.start, bucket.count, reviewSubmissions[i]?.count ?? 0]);
  const highest = Math.max(1, ...buckets.flatMap(([, a, r]) => [a, r]));
  const width = 480 / Math.max(1, buckets.length);
  svg.replaceChildren();
  buckets.forEach(([start, annotations, reviews], i) => {
    [[annotations, "annotation", 0], [reviews, "review", width / 2]].forEach(([count, kind, offset]) => {
      const height = (count / highest) * 120;
      const bar = document.createElementNS(ns, "rect");
      Object.entries({ x: i * width + offset + 1, y: 120 - height, width: width / 2 - 1, height, class: kind })
        .forEach(([name, value]) => bar.setAttribute(name, value));
      const title = document.createElementNS(ns, "title");
      title.textContent = `${time(start)}: ${count} ${kind} submission(s)`;
      bar.append(title);
      svg.append(bar);
    });
    if (i % 6 === 0) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", i * width);
      label.setAttribute("y", 134);
      label.textContent = new Date(start).getHours().toString().padStart(2, "0") + ":00";
      svg.append(label);
    }
  });
  const total = (list) => list.reduce((sum, bucket) => sum + bucket.count, 0);
  $("#throughput-total").textContent =
    `${total(annotationSubmissions)} annotation and ${total(reviewSubmissions)} review submissions`;
}

// Analytics have no stream of their own: read them again shortly after submissions arrive.
function refreshThroughputSoon() {
  clearTimeout(state.throughputTimer);
  state.throughputTimer = setTimeout(async () => {
    try {
      const { campaign } = await graphql(THROUGHPUT, { id: $("#campaign").value, range: last24Hours() });
      renderThroughput(campaign.analytics.throughput);
    } catch (error) {
      say(error.message);
    }
  }, 1000);
}

function renderIssues() {
  const issues = [...state.openIssues.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  $("#issue-count").textContent = `(${issues.length})`;
  $("#issue-list").replaceChildren(...issues.map((issue) => {
    const item = document.createElement("li");
    item.dataset.issue = issue.id;
    item.textContent = `${issue.asset.filename}: ${issue.kind} issue by ${issue.author.username}, ${time(issue.createdAt)}`;
    return item;
  }));
}

function addToFeed(cursor, at, text) {
  const list = $("#feed-list");
  const item = document.createElement("li");
  item.className = "new";
  item.dataset.cursor = cursor;
  item.append(Object.assign(document.createElement("time"), { dateTime: at, textContent: time(at) }), " ",
    Object.assign(document.createElement("span"), { className: "what", textContent: text }));
  list.prepend(item);
  while (list.children.length > FEED_LIMIT) list.lastElementChild.remove();
}

function showTaskUpdate(update) {
  const { task } = update;
  const where = task.step ? ` → ${task.status} at ${task.step.name}${task.assignee ? ` (${task.assignee.username})` : ""}` : ` → ${task.status}`;
  addToFeed(update.cursor, update.at, `${update.kind} ${task.asset.filename} by ${update.actor?.username ?? "the server"}${where}`);
  if (update.kind === "SUBMITTED") refreshThroughputSoon();
}

function showIssueUpdate(update) {
  const { issue } = update;
  addToFeed(update.cursor, update.at, `issue ${update.kind} on ${issue.asset.filename} by ${update.actor?.username ?? "the server"}`);
  // The issue as it is now: an update the snapshot already showed changes nothing.
  if (issue.status === "OPEN") state.openIssues.set(issue.id, issue);
  else state.openIssues.delete(issue.id);
  renderIssues();
}

// --- wiring ---------------------------------------------------------------------------------

$("#login").addEventListener("submit", logIn);
$("#campaign").addEventListener("change", (event) => openCampaign(event.target.value));
$("#log-out").addEventListener("click", async () => {
  await graphql(LOG_OUT).catch(() => {}); // the token stops working on the server too
  signedOut();
});
if (state.token) start(); else signedOut();
