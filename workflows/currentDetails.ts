/**
 * The markdown the Temporal Web UI shows as a process's current details: status and step, the open task
 * and who it waits for, why it needs attention, the last rejected reports and notes. Pure: the lifecycle
 * sets it whenever any of these change.
 */
import type { LifecycleState } from './definitions';

export function renderDetails(s: LifecycleState): string {
  const lines = [`**${s.process}** of **${s.assetNumber}** — status **${s.status}**, step **${s.step}**`];
  if (s.pendingTask) lines.push(describeTask(s.pendingTask));
  if (s.mdmWeather) lines.push(describeWeather(s.mdmWeather));
  if (s.status === 'needs-attention') {
    lines.push(`Step **${s.failedStep}** failed: ${s.lastError}. An admin can \`retry\` or \`abort\`.`);
  }
  const rejected = s.reports.filter((r) => r.outcome === 'rejected').slice(-3);
  for (const r of rejected) lines.push(`Rejected \`${r.event}\` from ${r.actor.id}: ${r.reason}`);
  for (const n of s.notes.slice(-3)) lines.push(n);
  return lines.join('\n\n');
}

function describeWeather(w: NonNullable<LifecycleState['mdmWeather']>): string {
  const until = w.givesUpAt ? `; needs attention if it is still failing at ${w.givesUpAt}` : '; reads never give up';
  return (
    `The MDM is not answering at step **${w.step}**: \`${w.activity}\` failed ${w.tries} time(s) since ${w.since} ` +
    `(${w.error}). Next try at **${w.nextTryAt}**${until}.`
  );
}

function describeTask(t: NonNullable<LifecycleState['pendingTask']>): string {
  const contact = t.contact?.name ? `; contact ${t.contact.name}${t.contact.email ? ` <${t.contact.email}>` : ''}` : '';
  return (
    `Waiting for ${t.expects.map((e) => `\`${e}\``).join(' or ')} (task \`${t.type}\`), due ${t.dueAt}` +
    `${contact}; reminders sent ${t.remindersSent}${t.escalated ? '; escalated to admins' : ''}`
  );
}
