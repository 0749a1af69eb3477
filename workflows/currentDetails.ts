/**
 * The markdown the Temporal Web UI shows as a process's current details: status and step, the open task
 * and who it waits for, why it needs attention, the last rejected reports and notes. Pure: the lifecycle
 * sets it whenever any of these change.
 *
 * Current details are not encrypted by the payload codec's reach everywhere and anyone with UI access
 * reads them, so they carry no personal data (issue 12): no contact names or e-mail addresses (any
 * address in free text is masked), reporters by role only; and text that came from people or the MDM is
 * escaped, so a report cannot inject markdown (links, images) into the UI.
 */
import type { LifecycleState } from './definitions';

export function renderDetails(s: LifecycleState): string {
  const lines = [`**${s.process}** of **${s.assetNumber}** — status **${s.status}**, step **${s.step}**`];
  if (s.pendingTask) lines.push(describeTask(s.pendingTask));
  if (s.mdmWeather) lines.push(describeWeather(s.mdmWeather));
  if (s.status === 'needs-attention') {
    lines.push(`Step **${s.failedStep}** failed: ${plain(s.lastError)}. An admin can \`retry\` or \`abort\`.`);
  }
  const rejected = s.reports.filter((r) => r.outcome === 'rejected').slice(-3);
  for (const r of rejected) lines.push(`Rejected \`${r.event}\` from a ${plain(r.actor.role)}: ${plain(r.reason)}`);
  for (const n of s.notes.slice(-3)) lines.push(plain(n));
  return lines.join('\n\n');
}

const EMAIL = /[^\s@<>()[\]"']+@[^\s@<>()[\]"']+\.[^\s@<>()[\]"'.,;:]+/g;
const MARKDOWN = /[\\`*_{}[\]()#+\-.!|<>~]/g;

/** Free text for the details: one line, e-mail addresses masked, markdown characters escaped. */
export function plain(text: string | undefined): string {
  return (text ?? '')
    .replace(/\s+/g, ' ')
    .replace(EMAIL, '[e-mail]')
    .replace(MARKDOWN, (c) => `\\${c}`);
}

function describeWeather(w: NonNullable<LifecycleState['mdmWeather']>): string {
  const until = w.givesUpAt ? `; needs attention if it is still failing at ${w.givesUpAt}` : '; reads never give up';
  return (
    `The MDM is not answering at step **${w.step}**: \`${w.activity}\` failed ${w.tries} time(s) since ${w.since} ` +
    `(${plain(w.error)}). Next try at **${w.nextTryAt}**${until}.`
  );
}

function describeTask(t: NonNullable<LifecycleState['pendingTask']>): string {
  // Who to contact is in the task (query, task index, inbox), never in the details.
  const contact = t.contact?.name || t.contact?.email ? '; the contact is on the task' : '';
  return (
    `Waiting for ${t.expects.map((e) => `\`${e}\``).join(' or ')} (task \`${t.type}\`), due ${t.dueAt}` +
    `${contact}; reminders sent ${t.remindersSent}${t.escalated ? '; escalated to admins' : ''}`
  );
}
