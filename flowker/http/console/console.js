// Flowker's operator console: read-only pages over the /v1 API, signed in with an API key that is kept
// in this browser tab's sessionStorage only (gone when the tab closes, never sent anywhere but this API).
// Preact + htm, shipped prebuilt in vendor/ (see vendor/LICENSES.txt); no build step, no CDN.
import { h, render } from "./vendor/preact.js";
import { useCallback, useEffect, useRef, useState } from "./vendor/hooks.js";
import htm from "./vendor/htm.js";

const html = htm.bind(h);
const KEY = "flowker.apiKey";
const POLL_MS = 2000;
const STATUSES = ["pending", "running", "completed", "failed", "cancelled"];
const MAX_PAGES = 10; // a time filter reads at most this many pages of 100 executions

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

async function api(path, key) {
  const answer = await fetch(path, { headers: { "X-API-Key": key, Accept: "application/json" } });
  const text = await answer.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = { message: text.slice(0, 200) };
  }
  if (!answer.ok) throw new ApiError(answer.status, body);
  return body;
}

// --- small pieces ----------------------------------------------------------------------------------

function useHash() {
  const [hash, setHash] = useState(location.hash || "#/executions");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/executions");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

// Loads `load()` now, again when `deps` change, and every POLL_MS while `live(data)` says so.
function useLoad(load, deps, live = () => false) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const timer = useRef(null);
  useEffect(() => {
    let gone = false;
    const run = async () => {
      try {
        const data = await load();
        if (gone) return;
        setState({ data, error: null, loading: false });
        if (live(data)) timer.current = setTimeout(run, POLL_MS);
      } catch (error) {
        if (!gone) setState((s) => ({ data: s.data, error, loading: false }));
      }
    };
    setState((s) => ({ ...s, loading: true }));
    run();
    return () => {
      gone = true;
      clearTimeout(timer.current);
    };
  }, deps);
  return state;
}

const Status = ({ value }) => html`<span class=${`status status-${value}`}>${value}</span>`;
const Time = ({ value }) => (value ? html`<time datetime=${value}>${value.replace("T", " ").replace(/\.\d+/, "")}</time>` : "—");
const Json = ({ value }) => html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
const Failure = ({ error }) =>
  error ? html`<p class="error" role="alert">${error.code ? `${error.code}: ` : ""}${error.message}</p>` : null;

function duration(ms) {
  if (ms === undefined || ms === null) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function age(since) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

// --- sign in ---------------------------------------------------------------------------------------

function SignIn({ onKey }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await api("/v1/workflows?limit=1", key.trim());
      sessionStorage.setItem(KEY, key.trim());
      onKey(key.trim());
    } catch (e) {
      setError(e.status === 401 ? new Error("This API key is not accepted.") : e);
    }
  };
  return html`<main class="signin">
    <h1>Flowker console</h1>
    <form onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" value=${key} onInput=${(e) => setKey(e.target.value)} autofocus />
      <button type="submit" disabled=${!key.trim()}>Sign in</button>
      <p class="hint">Kept in this tab only, until you sign out or close it.</p>
      <${Failure} error=${error} />
    </form>
  </main>`;
}

// --- executions ------------------------------------------------------------------------------------

async function loadExecutions(key, filters) {
  const query = new URLSearchParams({ limit: "100", sortBy: "startedAt", sortOrder: "DESC" });
  if (filters.workflowId) query.set("workflowId", filters.workflowId);
  if (filters.status) query.set("status", filters.status);
  const from = filters.from ? Date.parse(filters.from) : null;
  const to = filters.to ? Date.parse(filters.to) : null;
  const items = [];
  let cursor = "";
  let truncated = false;
  for (let page = 0; page < MAX_PAGES; page++) {
    if (cursor) query.set("cursor", cursor);
    const body = await api(`/v1/executions?${query}`, key);
    let older = false;
    for (const item of body.items) {
      const started = Date.parse(item.startedAt);
      if (from !== null && started < from) older = true;
      else if (to === null || started <= to) items.push(item);
    }
    // Without a time filter one page is enough; with one, read until executions are older than it.
    if (!body.hasMore || older || from === null) {
      truncated = body.hasMore && from === null;
      break;
    }
    cursor = body.nextCursor;
    if (page === MAX_PAGES - 1) truncated = true;
  }
  return { items, truncated };
}

function Executions({ apiKey, workflows, initial }) {
  const [filters, setFilters] = useState({ workflowId: "", status: "", from: "", to: "", ...initial });
  const set = (name) => (event) => setFilters({ ...filters, [name]: event.target.value });
  const names = Object.fromEntries((workflows || []).map((w) => [w.id, w.name]));
  const { data, error, loading } = useLoad(() => loadExecutions(apiKey, filters), [apiKey, JSON.stringify(filters)], () => true);
  return html`<section>
    <h2>Executions ${loading ? html`<span class="spinner" aria-label="loading"></span>` : null}</h2>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Workflow <select name="workflowId" value=${filters.workflowId} onChange=${set("workflowId")}>
        <option value="">all</option>
        ${(workflows || []).map((w) => html`<option value=${w.id}>${w.name}</option>`)}
      </select></label>
      <label>Status <select name="status" value=${filters.status} onChange=${set("status")}>
        <option value="">all</option>
        ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select></label>
      <label>Started from <input name="from" type="datetime-local" value=${filters.from} onChange=${set("from")} /></label>
      <label>to <input name="to" type="datetime-local" value=${filters.to} onChange=${set("to")} /></label>
    </form>
    <${Failure} error=${error} />
    ${data &&
    html`<table class="list" id="executions">
        <thead><tr><th>Execution</th><th>Workflow</th><th>Status</th><th>Step</th><th>Started</th><th>Ended</th></tr></thead>
        <tbody>
          ${data.items.map(
            (e) => html`<tr>
              <td><a href=${`#/executions/${e.executionId}`} class="mono">${e.executionId}</a></td>
              <td><a href=${`#/workflows/${e.workflowId}`}>${names[e.workflowId] || e.workflowId.slice(0, 8)}</a></td>
              <td><${Status} value=${e.status} /></td>
              <td>${e.currentStepNumber}/${e.totalSteps}</td>
              <td><${Time} value=${e.startedAt} /></td>
              <td><${Time} value=${e.completedAt} /></td>
            </tr>`
          )}
        </tbody>
      </table>
      ${data.items.length === 0 ? html`<p class="empty">No execution matches.</p>` : null}
      ${data.truncated ? html`<p class="hint">Showing the newest ${data.items.length}; narrow the filters to see older ones.</p>` : null}`}
  </section>`;
}

function Execution({ apiKey, id }) {
  const { data, error } = useLoad(
    () => api(`/v1/executions/${encodeURIComponent(id)}/timeline`, apiKey),
    [apiKey, id],
    (t) => t.status === "pending" || t.status === "running"
  );
  const [open, setOpen] = useState({});
  if (!data) return html`<section><h2>Execution</h2><${Failure} error=${error} /></section>`;
  const toggle = (n) => setOpen({ ...open, [n]: !open[n] });
  return html`<section>
    <h2>Execution <span class="mono">${data.executionId}</span></h2>
    <dl class="facts">
      <dt>Workflow</dt><dd><a href=${`#/workflows/${data.workflowId}`}>${data.workflowName || data.workflowId}</a></dd>
      <dt>Status</dt><dd id="execution-status"><${Status} value=${data.status} /></dd>
      <dt>Steps</dt><dd>${data.currentStepNumber} of ${data.totalSteps}</dd>
      <dt>Started</dt><dd><${Time} value=${data.startedAt} /></dd>
      <dt>Ended</dt><dd><${Time} value=${data.completedAt} /></dd>
      ${data.errorMessage ? html`<dt>Error</dt><dd class="error">${data.errorMessage}</dd>` : null}
    </dl>
    <${Failure} error=${error} />
    <h3>Timeline</h3>
    <ol class="timeline" id="timeline">
      ${data.steps.map(
        (s) => html`<li class=${`step step-${s.status}`}>
          <button type="button" class="step-head" aria-expanded=${!!open[s.stepNumber]} onClick=${() => toggle(s.stepNumber)}>
            <span class="step-number">${s.stepNumber}</span>
            <span class="step-name">${s.stepName}</span>
            <span class="step-type">${s.nodeType}</span>
            <${Status} value=${s.status} />
            <span class="step-duration">${duration(s.durationMs)}</span>
            ${s.attempts ? html`<span class="step-attempts">${s.attempts} attempt${s.attempts === 1 ? "" : "s"}${s.repeat ? ", repeated after a restart" : ""}</span>` : null}
          </button>
          ${open[s.stepNumber] &&
          html`<div class="step-body">
            <p>Node <span class="mono">${s.nodeId}</span>, started <${Time} value=${s.executedAt} /></p>
            ${s.errorMessage ? html`<p class="error">${s.errorMessage}</p>` : null}
            ${s.input !== undefined ? html`<h4>Input</h4><${Json} value=${s.input} />` : null}
            ${s.output !== undefined ? html`<h4>Output</h4><${Json} value=${s.output} />` : null}
          </div>`}
        </li>`
      )}
      ${data.inFlight.map((node) => html`<li class="step step-running"><div class="step-head"><span class="step-name">${node}</span><${Status} value="running" /><span class="step-duration">call in flight</span></div></li>`)}
    </ol>
  </section>`;
}

// --- workflows -------------------------------------------------------------------------------------

function Workflows({ workflows, error }) {
  return html`<section>
    <h2>Workflows</h2>
    <${Failure} error=${error} />
    ${workflows &&
    html`<table class="list" id="workflows">
      <thead><tr><th>Name</th><th>Status</th><th>Nodes</th><th>Updated</th></tr></thead>
      <tbody>${workflows.map(
        (w) => html`<tr><td><a href=${`#/workflows/${w.id}`}>${w.name}</a></td><td><${Status} value=${w.status} /></td>
          <td>${(w.nodes || []).length}</td><td><${Time} value=${w.updatedAt} /></td></tr>`
      )}</tbody>
    </table>`}
  </section>`;
}

const NODE_W = 170;
const NODE_H = 44;

// The workflow as drawn by its author: nodes at their `position`, edges as lines with their handle or label.
function Graph({ workflow }) {
  const nodes = workflow.nodes || [];
  if (!nodes.length) return html`<p class="empty">This workflow has no nodes.</p>`;
  const xs = nodes.map((n) => (n.position || {}).x || 0);
  const ys = nodes.map((n) => (n.position || {}).y || 0);
  const minX = Math.min(...xs) - 20;
  const minY = Math.min(...ys) - 20;
  const width = Math.max(...xs) - minX + NODE_W + 20;
  const height = Math.max(...ys) - minY + NODE_H + 20;
  const at = Object.fromEntries(nodes.map((n) => [n.id, n.position || { x: 0, y: 0 }]));
  return html`<svg class="graph" id="graph" viewBox=${`${minX} ${minY} ${width} ${height}`} role="img"
      aria-label=${`graph of ${nodes.length} nodes`} style=${`max-width:${width}px`}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
      <path d="M 0 0 L 10 5 L 0 10 z" /></marker></defs>
    ${(workflow.edges || []).map((e) => {
      const a = at[e.source];
      const b = at[e.target];
      if (!a || !b) return null;
      const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y;
      const label = [e.sourceHandle, e.label].filter(Boolean).join(" · ");
      return html`<g class="edge"><line x1=${x1} y1=${y1} x2=${x2} y2=${y2} marker-end="url(#arrow)" />
        ${label ? html`<text x=${(x1 + x2) / 2 + 4} y=${(y1 + y2) / 2}>${label}</text>` : null}</g>`;
    })}
    ${nodes.map((n) => {
      const p = at[n.id];
      return html`<g class=${`node node-${n.type}`} data-node=${n.id}>
        <rect x=${p.x} y=${p.y} width=${NODE_W} height=${NODE_H} rx="6" />
        <text x=${p.x + 8} y=${p.y + 18} class="node-name">${(n.name || n.id).slice(0, 22)}</text>
        <text x=${p.x + 8} y=${p.y + 34} class="node-type">${n.type}</text>
      </g>`;
    })}
  </svg>`;
}

function WorkflowPage({ apiKey, id }) {
  const { data, error } = useLoad(() => api(`/v1/workflows/${encodeURIComponent(id)}`, apiKey), [apiKey, id]);
  return html`<section>
    <h2>Workflow ${data ? data.name : ""}</h2>
    <${Failure} error=${error} />
    ${data &&
    html`<dl class="facts"><dt>Status</dt><dd><${Status} value=${data.status} /></dd>
        <dt>Id</dt><dd class="mono">${data.id}</dd>${data.description ? html`<dt>Description</dt><dd>${data.description}</dd>` : null}</dl>
      <${Graph} workflow=${data} />
      <p><a href=${`#/executions?workflowId=${data.id}`}>Its executions</a></p>`}
  </section>`;
}

// --- executor configurations -----------------------------------------------------------------------

async function loadExecutors(key) {
  const page = await api("/v1/executors?limit=100", key);
  // The list leaves the breaker out; each configuration's own page has it.
  return Promise.all(page.items.map((c) => api(`/v1/executors/${c.id}`, key)));
}

function Executors({ apiKey }) {
  const { data, error } = useLoad(() => loadExecutors(apiKey), [apiKey], () => true);
  return html`<section>
    <h2>Executor configurations</h2>
    <${Failure} error=${error} />
    ${data &&
    html`<table class="list" id="executors">
      <thead><tr><th>Name</th><th>Status</th><th>Base URL</th><th>Authentication</th><th>Breaker</th><th>Failures</th></tr></thead>
      <tbody>${data.map(
        (c) => html`<tr>
          <td>${c.name}</td><td><${Status} value=${c.status} /></td><td class="mono">${c.baseUrl}</td>
          <td>${c.authentication.type}</td>
          <td><span class=${`breaker breaker-${(c.breaker || {}).state}`}>${(c.breaker || {}).state || "—"}</span></td>
          <td>${c.breaker ? `${c.breaker.consecutiveFailures} in a row, rate ${c.breaker.failureRate === null ? "—" : `${Math.round(c.breaker.failureRate)}%`}` : "—"}</td>
        </tr>`
      )}</tbody>
    </table>`}
  </section>`;
}

// --- audit trail -----------------------------------------------------------------------------------

function Audit({ apiKey }) {
  const [cursor, setCursor] = useState("");
  const [verdict, setVerdict] = useState(null);
  const [busy, setBusy] = useState(false);
  const query = new URLSearchParams({ limit: "50" });
  if (cursor) query.set("cursor", cursor);
  const { data, error } = useLoad(() => api(`/v1/audit-events?${query}`, apiKey), [apiKey, cursor]);
  const verify = useCallback(
    async (event) => {
      setBusy(true);
      try {
        setVerdict({ event, result: await api(`/v1/audit-events/${event.eventId}/verify`, apiKey) });
      } catch (e) {
        setVerdict({ event, error: e });
      } finally {
        setBusy(false);
      }
    },
    [apiKey]
  );
  const newest = data && data.items[0];
  return html`<section>
    <h2>Audit trail</h2>
    <${Failure} error=${error} />
    ${newest &&
    html`<p><button type="button" id="verify" disabled=${busy} onClick=${() => verify(newest)}>
      ${busy ? "Verifying…" : `Verify the trail up to event ${newest.sequence}`}</button></p>`}
    ${verdict &&
    html`<div class=${`verdict ${verdict.result && verdict.result.isValid ? "valid" : "invalid"}`} id="verdict" role="status">
      ${verdict.error
        ? html`<${Failure} error=${verdict.error} />`
        : html`<strong>${verdict.result.isValid ? "Valid" : "NOT valid"}</strong>${`: ${verdict.result.message}. ` +
            `${verdict.result.totalChecked} events read, ${verdict.result.checkpointsChecked} signed checkpoints ` +
            `checked; root `}<span class="mono">${verdict.result.rootHash}</span>${` of ${verdict.result.treeSize} events.`}
            ${verdict.result.reason ? html`<span> Reason: <code>${verdict.result.reason}</code>.</span>` : null}`}
    </div>`}
    ${data &&
    html`<table class="list" id="audit">
        <thead><tr><th>#</th><th>Event</th><th>Result</th><th>Resource</th><th>Actor</th><th>When</th><th></th></tr></thead>
        <tbody>${data.items.map(
          (e) => html`<tr>
            <td>${e.sequence}</td><td>${e.eventType}</td><td>${e.result}</td>
            <td>${e.resourceType} ${e.resourceType === "execution"
              ? html`<a class="mono" href=${`#/executions/${e.resourceId}`}>${e.resourceId.slice(0, 8)}</a>`
              : html`<span class="mono">${String(e.resourceId).slice(0, 8)}</span>`}</td>
            <td>${e.actor ? `${e.actor.type}${e.actor.id && e.actor.id !== e.actor.type ? ` ${e.actor.id}` : ""}` : ""}</td>
            <td><${Time} value=${e.timestamp} /></td>
            <td><button type="button" class="small" onClick=${() => verify(e)} disabled=${busy}>Verify</button></td>
          </tr>`
        )}</tbody>
      </table>
      <p class="pager">
        ${cursor ? html`<button type="button" onClick=${() => setCursor("")}>Newest</button>` : null}
        ${data.hasMore ? html`<button type="button" onClick=${() => setCursor(data.nextCursor)}>Older</button>` : null}
      </p>`}
  </section>`;
}

// --- the shell -------------------------------------------------------------------------------------

function App() {
  const [apiKey, setApiKey] = useState(sessionStorage.getItem(KEY));
  const hash = useHash();
  const workflows = useLoad(async () => (apiKey ? (await api("/v1/workflows?limit=100", apiKey)).items : null), [apiKey, hash]);
  const signOut = () => {
    sessionStorage.removeItem(KEY);
    setApiKey(null);
  };
  useEffect(() => {
    if (workflows.error && workflows.error.status === 401) signOut();
  }, [workflows.error]);
  if (!apiKey) return html`<${SignIn} onKey=${setApiKey} />`;
  const [path, search] = hash.slice(1).split("?");
  const initial = Object.fromEntries(new URLSearchParams(search || ""));
  const parts = path.split("/").filter(Boolean);
  let page;
  if (parts[0] === "executions" && parts[1]) page = html`<${Execution} apiKey=${apiKey} id=${parts[1]} />`;
  else if (parts[0] === "workflows" && parts[1]) page = html`<${WorkflowPage} apiKey=${apiKey} id=${parts[1]} />`;
  else if (parts[0] === "workflows") page = html`<${Workflows} workflows=${workflows.data} error=${workflows.error} />`;
  else if (parts[0] === "executors") page = html`<${Executors} apiKey=${apiKey} />`;
  else if (parts[0] === "audit") page = html`<${Audit} apiKey=${apiKey} />`;
  else page = html`<${Executions} apiKey=${apiKey} workflows=${workflows.data} initial=${initial} key=${search || ""} />`;
  const tab = (to, label) => html`<a href=${to} aria-current=${`#/${parts[0] || "executions"}` === to ? "page" : null}>${label}</a>`;
  return html`<header>
      <strong>Flowker</strong>
      <nav>${tab("#/executions", "Executions")} ${tab("#/workflows", "Workflows")} ${tab("#/executors", "Executors")} ${tab("#/audit", "Audit trail")}</nav>
      <button type="button" class="signout" onClick=${signOut}>Sign out</button>
    </header>
    <main>${page}</main>`;
}

render(html`<${App} />`, document.getElementById("console"));
