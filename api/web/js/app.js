// The field-staff page: sign in with a token, see my tasks, open one, report it done.
// Views are chosen by the URL hash (#/tasks, #/task/<workflowId>) so the phone's back button works.
import { apiCall, ApiFailure, clearToken, getToken, newIdempotencyKey, setToken } from './api.js';
import { buildReportForm } from './reportForm.js';

const TASK_TYPES = {
  'collect-device': 'Collect device',
  'confirm-wipe': 'Confirm wipe',
  'reenroll-device': 'Re-enrol device',
  'assign-user': 'Assign user',
  'deliver-device': 'Deliver device',
  'install-removal-profile': 'Install removal profile',
  'remove-profiles': 'Remove profiles',
  'remove-client-app': 'Remove client app',
  'admin-decision': 'Needs an administrator',
};

// The process a task belongs to: a delivery can end a change of user or a distribution from stock.
const PROCESSES = {
  'change-user': 'Change device user',
  inactivation: 'Inactivate device',
  distribution: 'Distribute device from stock',
};

const EVENTS = {
  'device-collected': { title: 'Device collected', text: 'Collect the device from its user and take it to storage.' },
  'wipe-confirmed': { title: 'Wipe confirmed', text: 'Check that the device was erased (the MDM did not confirm it).' },
  'device-reenrolled': { title: 'Device re-enrolled', text: 'Install the MDM agent and apply the policy.' },
  'user-assigned': { title: 'User assigned', text: 'Say who gets the device: an application id or the new user.' },
  'device-delivered': { title: 'Device delivered', text: 'Hand the device to the new user; they sign for it.' },
  'removal-profile-installed': {
    title: 'Removal profile installed',
    text: 'The user installed the removal profile from the notification.',
  },
  'profile-removal-failed': {
    title: 'Profile removal failed',
    text: 'The profiles could not be removed; say what went wrong.',
  },
  'profiles-removed': {
    title: 'Profiles removed',
    text: 'The MDM profile and the configuration profile are gone from the device.',
  },
  'app-removed': { title: 'Client app removed', text: 'Remove the client app (only after the profiles are removed).' },
};

const $ = (id) => document.getElementById(id);
const views = ['view-signin', 'view-tasks', 'view-task'];

let spec; // /openapi.json, fetched once: the report forms are built from its event payload schemas
let cursor = null;
// workflowId -> step it was at when this page reported it; the task list can lag a moment behind.
const reported = new Map();

/** Navigates, and still re-renders when the hash is already there (no hashchange event then). */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function show(view) {
  for (const v of views) $(v).hidden = v !== view;
  $('sign-out').hidden = view === 'view-signin';
}

function banner(message, { bad = false, detail } = {}) {
  const b = $('banner');
  b.textContent = message;
  if (detail) {
    const p = document.createElement('p');
    p.textContent = detail;
    b.append(p);
  }
  b.classList.toggle('bad', bad);
  b.hidden = !message;
}

function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

function text(tag, className, value) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = value;
  return node;
}

/** A 401 anywhere means the token is no longer good: back to sign-in, saying why. */
function handleAuthFailure(err) {
  if (err instanceof ApiFailure && err.status === 401) {
    clearToken();
    go('#/signin');
    $('token-error').textContent = `Signed out: ${err.message}`;
    return true;
  }
  return false;
}

// --- sign in -------------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  $('token-error').textContent = '';
  $('token').removeAttribute('aria-invalid');
  if (!token) {
    $('token-error').textContent = 'Paste your access token.';
    $('token').setAttribute('aria-invalid', 'true');
    $('token').focus();
    return;
  }
  setToken(token);
  try {
    await apiCall('GET', '/api/v1/tasks?limit=1');
  } catch (err) {
    clearToken();
    $('token').setAttribute('aria-invalid', 'true');
    $('token-error').textContent =
      err instanceof ApiFailure && err.status === 403
        ? 'This token may not see tasks (field staff or admin needed).'
        : err instanceof ApiFailure && err.status === 401
          ? 'This token was not accepted. Check that it was pasted completely.'
          : err.message;
    return;
  }
  $('token').value = '';
  go('#/tasks');
}

// --- task list -----------------------------------------------------------------------------------

function filterQuery() {
  const params = new URLSearchParams();
  for (const name of ['type', 'department', 'location']) {
    const value = $(`filter-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function taskCard(task) {
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = `#/task/${encodeURIComponent(task.workflowId)}`;
  a.dataset.workflowId = task.workflowId;
  const head = document.createElement('div');
  head.className = 'task-head';
  head.append(
    text('span', 'task-asset', task.assetNumber),
    text('span', 'task-type', TASK_TYPES[task.type] || task.type),
  );
  const where = [task.department, task.location].filter(Boolean).join(' · ');
  a.append(head, text('div', 'task-where', where || 'No department or location'));
  if (task.dueAt) {
    const overdue = typeof task.overdue === 'boolean' ? task.overdue : Date.parse(task.dueAt) < Date.now();
    a.append(
      text(
        'div',
        `task-due${overdue ? ' overdue' : ''}`,
        `${overdue ? 'Overdue since' : 'Due'} ${formatDate(task.dueAt)}`,
      ),
    );
  }
  a.setAttribute(
    'aria-label',
    `${TASK_TYPES[task.type] || task.type}, ${task.assetNumber}, ${where}${task.dueAt ? `, due ${formatDate(task.dueAt)}` : ''}`,
  );
  li.append(a);
  return li;
}

async function loadTasks({ more = false } = {}) {
  const list = $('task-list');
  const status = $('tasks-status');
  if (!more) cursor = null;
  const params = filterQuery();
  params.set('limit', '50');
  if (more && cursor) params.set('cursor', cursor);
  status.textContent = 'Loading...';
  let page;
  try {
    page = await apiCall('GET', `/api/v1/tasks?${params}`);
  } catch (err) {
    if (handleAuthFailure(err)) return;
    status.textContent = `Could not load tasks: ${err.message}`;
    return;
  }
  if (!more) list.textContent = '';
  // A task this page just reported may still be listed at its old step for a moment: hide it.
  const items = (page.items || []).filter((t) => reported.get(t.workflowId) !== t.step);
  for (const task of items) list.append(taskCard(task));
  cursor = page.nextCursor || null;
  $('load-more').hidden = !cursor;
  const count = list.children.length;
  status.textContent = count ? `${count} task${count === 1 ? '' : 's'}${cursor ? ' so far' : ''}` : 'No tasks. Nice.';
}

// --- one task ------------------------------------------------------------------------------------

async function loadSpec() {
  if (!spec) {
    const res = await fetch('/openapi.json');
    if (!res.ok) throw new Error(`could not load the report forms (${res.status})`);
    spec = await res.json();
  }
  return spec;
}

function resolveRef(ref) {
  return ref
    .split('/')
    .slice(1)
    .reduce((node, key) => node[key], spec);
}

/** The event's payload schema, as documented on the report operation. */
function payloadSchema(event) {
  for (const ops of Object.values(spec.paths)) {
    const payloads = ops.post && ops.post['x-event-payloads'];
    if (payloads && payloads[event]) return resolveRef(payloads[event].$ref);
  }
  return { type: 'object', properties: {} };
}

function fact(dl, label, value) {
  if (value === undefined || value === null || value === '') return;
  dl.append(text('dt', '', label));
  const dd = document.createElement('dd');
  if (value instanceof Node) dd.append(value);
  else dd.textContent = value;
  dl.append(dd);
}

function contactNode(contact) {
  if (!contact) return '';
  const span = document.createElement('span');
  const parts = [];
  if (contact.name) parts.push(document.createTextNode(contact.name));
  if (contact.phone) {
    const a = text('a', '', contact.phone);
    a.href = `tel:${contact.phone.replace(/[^0-9+]/g, '')}`;
    parts.push(a);
  }
  if (contact.email) {
    const a = text('a', '', contact.email);
    a.href = `mailto:${contact.email}`;
    parts.push(a);
  }
  parts.forEach((p, i) => {
    if (i) span.append(document.createElement('br'));
    span.append(p);
  });
  return parts.length ? span : '';
}

let current; // { workflowId, step, event, form, idempotencyKey }

/**
 * A page opened on a running process that waits for nobody looks again: its task may be about to open.
 * The task inbox lists a new task a moment before the process's view shows it (its row is written first),
 * and a person may open a device's page while its wipe runs. Every LOOK_AGAIN_MS, for LOOK_FOR_MS at most.
 */
const LOOK_AGAIN_MS = 3000;
const LOOK_FOR_MS = 5 * 60 * 1000;
let lookAgain;

const viewOf = (workflowId) => apiCall('GET', `/api/v1/workflows/${encodeURIComponent(workflowId)}`);

function watchForTask(workflowId, since) {
  const hash = location.hash;
  clearTimeout(lookAgain);
  lookAgain = setTimeout(async () => {
    if (location.hash !== hash) return;
    let view;
    try {
      view = await viewOf(workflowId);
    } catch {
      view = undefined; // a moment's failure: look again all the same
    }
    if (location.hash !== hash) return;
    if (view && (view.pendingTask || view.executionStatus !== 'running')) void openTask(workflowId);
    else if (Date.now() - since < LOOK_FOR_MS) watchForTask(workflowId, since);
  }, LOOK_AGAIN_MS);
}

async function openTask(workflowId) {
  clearTimeout(lookAgain);
  show('view-task');
  $('task-title').textContent = 'Loading...';
  $('task-facts').textContent = '';
  $('task-expected').textContent = '';
  $('event-choice').hidden = true;
  $('report-fields').textContent = '';
  $('report-error').hidden = true;
  $('report-form').hidden = true;
  let view;
  try {
    [view] = await Promise.all([viewOf(workflowId), loadSpec()]);
  } catch (err) {
    if (handleAuthFailure(err)) return;
    $('task-title').textContent = 'Could not open this task';
    $('task-expected').append(text('p', '', err.message));
    return;
  }
  const task = view.pendingTask;
  $('task-title').textContent = task
    ? `${TASK_TYPES[task.type] || task.type}: ${view.assetNumber}`
    : `${view.assetNumber}: nothing to do`;
  const dl = $('task-facts');
  fact(dl, 'Device', view.assetNumber);
  fact(dl, 'Process', PROCESSES[view.type] || view.type);
  fact(dl, 'Department', (task && task.department) || view.department);
  fact(dl, 'Location', (task && task.location) || view.location);
  if (task) {
    fact(dl, 'Contact', contactNode(task.contact));
    fact(dl, 'Due', formatDate(task.dueAt));
  }
  fact(dl, 'Step', view.step);
  if (!task) {
    const running = view.executionStatus === 'running';
    $('task-expected').append(
      text(
        'p',
        '',
        running
          ? 'This device is not waiting for anyone right now: its process is working. This page looks again ' +
              'every few seconds and shows the task when one opens.'
          : 'This device is not waiting for anyone right now. It may have been reported already.',
      ),
    );
    if (running) watchForTask(workflowId, Date.now());
    return;
  }
  const expects = task.expects || [];
  // Admin decisions (retry / abort after a failed step) are not field work: explain instead of a form.
  if (!expects.length || expects.some((e) => !EVENTS[e])) {
    const why = view.lastError ? ` Last error: ${view.lastError}` : '';
    $('task-expected').append(text('p', '', `This is waiting for an administrator, not for a field report.${why}`));
    return;
  }
  const choice = $('event-choice');
  choice.textContent = '';
  if (expects.length > 1) {
    choice.hidden = false;
    expects.forEach((event, i) => {
      const label = document.createElement('label');
      const radio = document.createElement('input');
      radio.type = 'radio';
      radio.name = 'event';
      radio.value = event;
      radio.checked = i === 0;
      radio.addEventListener('change', () => prepareForm(workflowId, task.step, event));
      label.append(radio, (EVENTS[event] || { title: event }).title);
      choice.append(label);
    });
  }
  $('task-expected').append(text('p', '', expects.map((e) => (EVENTS[e] ? EVENTS[e].text : e)).join(' Or: ')));
  prepareForm(workflowId, task.step, expects[0]);
}

function prepareForm(workflowId, step, event) {
  const form = buildReportForm(payloadSchema(event), $('report-fields'), resolveRef);
  // One key per opened form: every submit of this form is the same report.
  current = { workflowId, step, event, form, idempotencyKey: newIdempotencyKey() };
  $('report-submit').textContent = `Report: ${(EVENTS[event] || { title: event }).title}`;
  $('report-error').hidden = true;
  $('report-form').hidden = false;
}

function showReportError(title, lines) {
  const box = $('report-error');
  box.textContent = title;
  for (const line of lines) box.append(text('p', '', line));
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
}

async function submitReport(event) {
  event.preventDefault();
  if (!current) return;
  const { form, workflowId, idempotencyKey } = current;
  form.clearProblems();
  $('report-error').hidden = true;
  const missing = form.missing();
  if (missing.length) {
    form.showProblems(missing);
    showReportError('Some required fields are empty.', []);
    return;
  }
  const button = $('report-submit');
  button.disabled = true;
  try {
    const ack = await apiCall('POST', `/api/v1/workflows/${encodeURIComponent(workflowId)}/events/${current.event}`, {
      body: { step: current.step, data: form.read() },
      headers: { 'Idempotency-Key': idempotencyKey },
    });
    reported.set(workflowId, current.step);
    current = undefined;
    banner(
      `Reported: ${(EVENTS[ack.event] || { title: ack.event }).title} for ${workflowId.replace(/^device-/, '')}.`,
      {
        detail: ack.duplicate
          ? 'It had already been recorded; nothing was applied twice.'
          : ack.pending
            ? `The process moves on to ${ack.step} once ${ack.pending}. If that check fails, the task comes back to the list with the reason.`
            : ack.message
              ? `The process is still at ${ack.step}: ${ack.message}`
              : `The process moved on to: ${ack.step}.`,
      },
    );
    go('#/tasks');
  } catch (err) {
    if (handleAuthFailure(err)) return;
    if (err.status === 400 && Array.isArray(err.details.problems)) {
      const unplaced = form.showProblems(err.details.problems);
      showReportError(
        'The report was not accepted: please correct the marked fields.',
        unplaced.map((p) => `${p.field}: ${p.problem}`),
      );
    } else if (err.status === 409) {
      // Say where the process is now and what it waits for; the server's sentence only when it says more.
      const d = err.details;
      const lines = [];
      if (d.step) lines.push(`Current step: ${d.step}.`);
      if (Array.isArray(d.expects))
        lines.push(d.expects.length ? `It now expects: ${d.expects.join(', ')}.` : 'It expects no report now.');
      if (!lines.length) lines.push(err.message);
      lines.push('Someone may have reported it already: go back to the list to see what is still open.');
      showReportError('The report was refused.', lines);
    } else {
      showReportError('The report could not be sent.', [
        err.message,
        'You can try again: the same report is never applied twice.',
      ]);
    }
  } finally {
    button.disabled = false;
  }
}

// --- routing -------------------------------------------------------------------------------------

function route() {
  const hash = location.hash || '#/tasks';
  if (!getToken()) {
    show('view-signin');
    $('token').focus();
    return;
  }
  const task = /^#\/task\/(.+)$/.exec(hash);
  if (task) {
    banner('');
    void openTask(decodeURIComponent(task[1]));
    return;
  }
  show('view-tasks');
  void loadTasks();
}

function init() {
  const select = $('filter-type');
  for (const [value, label] of Object.entries(TASK_TYPES)) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = label;
    select.append(option);
  }
  $('signin-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => {
    clearToken();
    banner('');
    go('#/signin');
  });
  $('filter-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadTasks();
  });
  $('filter-form').addEventListener('reset', () => setTimeout(() => void loadTasks(), 0));
  $('refresh').addEventListener('click', () => {
    banner('');
    void loadTasks();
  });
  $('load-more').addEventListener('click', () => void loadTasks({ more: true }));
  $('report-form').addEventListener('submit', submitReport);
  window.addEventListener('hashchange', route);
  route();
}

init();
