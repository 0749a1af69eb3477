// A report form built from the event's payload schema in /openapi.json (itself generated from the zod
// schemas the API and the workflows validate with), so a field added to an event shows up here without
// touching the page. Only labels and a few widgets are chosen by hand.
import { createSignaturePad } from './signaturePad.js';

const LABELS = {
  collectedBy: 'Collected by',
  storageLocation: 'Storage location',
  note: 'Note',
  mdmDeviceId: 'MDM device id (if known)',
  applicationId: 'Application id',
  user: 'New user',
  department: 'Department',
  location: 'Location',
  name: 'Name',
  email: 'E-mail',
  phone: 'Phone',
  receivedBy: 'Received by',
  signature: 'Signature',
  deliveredAt: 'Delivered at (leave empty for now)',
  reason: 'What went wrong',
};

const HELP = {
  collectedBy: 'Your name, as the person who took the device.',
  storageLocation: 'Where the device is kept now, if not the planned storage.',
  applicationId: 'Give either an application id or the new user below, not both.',
  receivedBy: 'The person who received the device.',
  signature: 'The receiver signs in the box, or type their name below.',
};

function labelFor(name) {
  return LABELS[name] || name.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
}

/** zod's generic wording for blank text, said the way a person would; anything else as the API said it. */
function friendly(problem) {
  return /^Too small: expected string to have >=1 characters?$/.test(problem) ? 'Must not be empty.' : problem;
}

function fieldId(path) {
  return `f-${path.replace(/\./g, '-')}`;
}

/** `datetime-local` gives local wall time without an offset; the API wants ISO 8601 with one. */
function isoFromLocal(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

export function buildReportForm(schema, container, resolveRef) {
  container.textContent = '';
  const fields = new Map(); // path -> { read(), targets: [elements], error: element }

  function addField(parent, path, name, prop, required) {
    if (prop.$ref) prop = resolveRef(prop.$ref);
    const id = fieldId(path);
    const errorId = `${id}-error`;
    const helpId = HELP[name] ? `${id}-help` : null;
    const described = [helpId, errorId].filter(Boolean).join(' ');

    if (prop.type === 'object' && prop.properties) {
      const set = document.createElement('fieldset');
      const legend = document.createElement('legend');
      legend.textContent = labelFor(name) + (required ? '' : ' (optional)');
      set.append(legend);
      const error = addHelpAndError(set, helpId, name, errorId, path);
      // Registered so a problem naming the whole object (e.g. "give exactly one of ...") lands here.
      fields.set(path, { read: () => '', targets: [], error, required: false, focus: set });
      const req = new Set(prop.required || []);
      for (const [child, childProp] of Object.entries(prop.properties))
        addField(set, `${path}.${child}`, child, childProp, req.has(child));
      parent.append(set);
      return;
    }

    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = labelFor(name) + ' ';
    if (required) {
      const mark = document.createElement('span');
      mark.className = 'req';
      mark.textContent = '(required)';
      label.append(mark);
    }
    parent.append(label);

    if (name === 'signature') {
      const pad = createSignaturePad({ id, label: labelFor(name), describedBy: described });
      parent.append(pad.element);
      const error = addHelpAndError(parent, helpId, name, errorId, path);
      fields.set(path, {
        read: () => pad.value(),
        targets: pad.invalidTargets,
        error,
        required,
        focus: pad.focusTarget,
      });
      return;
    }

    let input;
    if (typeof prop.maxLength === 'number' && prop.maxLength > 500) {
      input = document.createElement('textarea');
      input.rows = 3;
    } else {
      input = document.createElement('input');
      input.type =
        prop.format === 'date-time'
          ? 'datetime-local'
          : prop.format === 'email' || name === 'email' // the spec gives e-mail addresses as a pattern
            ? 'email'
            : name === 'phone'
              ? 'tel'
              : 'text';
      input.autocomplete = 'off';
    }
    input.id = input.name = id;
    if (typeof prop.maxLength === 'number') input.maxLength = prop.maxLength;
    if (required) input.required = true;
    input.setAttribute('aria-describedby', described);
    parent.append(input);
    const error = addHelpAndError(parent, helpId, name, errorId, path);
    const read = prop.format === 'date-time' ? () => (input.value ? isoFromLocal(input.value) : '') : () => input.value;
    fields.set(path, { read, targets: [input], error, required, focus: input });
  }

  function addHelpAndError(parent, helpId, name, errorId) {
    if (helpId) {
      const help = document.createElement('p');
      help.id = helpId;
      help.className = 'help';
      help.textContent = HELP[name];
      parent.append(help);
    }
    const error = document.createElement('p');
    error.id = errorId;
    error.className = 'field-error';
    parent.append(error);
    return error;
  }

  const required = new Set(schema.required || []);
  for (const [name, prop] of Object.entries(schema.properties || {}))
    addField(container, name, name, prop, required.has(name));

  function clearProblems() {
    for (const f of fields.values()) {
      f.error.textContent = '';
      f.targets.forEach((t) => t.removeAttribute('aria-invalid'));
    }
  }

  /** Shows each problem next to its field; returns the problems that belong to no field. */
  function showProblems(problems) {
    const unplaced = [];
    let first;
    for (const p of problems) {
      // The API names payload fields `data.collectedBy`, unknown ones as a comma-separated list.
      const paths = String(p.field)
        .split(/,\s*/)
        .map((f) => f.replace(/^data\./, ''));
      const match = paths.map((path) => fields.get(path) || fields.get(path.split('.')[0])).find(Boolean);
      if (!match) {
        unplaced.push(p);
        continue;
      }
      const problem = friendly(p.problem);
      match.error.textContent = match.error.textContent ? `${match.error.textContent} ${problem}` : problem;
      match.targets.forEach((t) => t.setAttribute('aria-invalid', 'true'));
      first = first || match;
    }
    if (first) first.focus.focus();
    return unplaced;
  }

  /** The payload, leaving out empty optional fields and nested objects nobody filled in. */
  function read() {
    const data = {};
    for (const [path, f] of fields) {
      const value = f.read();
      if (value === '') continue;
      const keys = path.split('.');
      let target = data;
      for (const k of keys.slice(0, -1)) target = target[k] = target[k] || {};
      target[keys[keys.length - 1]] = value;
    }
    return data;
  }

  /** Required fields left empty, found before sending; blank-but-not-empty text is left to the API to judge. */
  function missing() {
    const data = read();
    const problems = [];
    for (const [path, f] of fields) {
      if (!f.required) continue;
      const parts = path.split('.');
      // A required field inside an optional object only counts once the object is being filled in.
      if (parts.length > 1 && data[parts[0]] === undefined) continue;
      if (f.read() === '') problems.push({ field: path, problem: 'Required.' });
    }
    return problems;
  }

  return { read, missing, showProblems, clearProblems };
}
