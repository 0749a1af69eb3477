/**
 * The Temporal UI's current details carry no personal data and no markdown from people (issue 12):
 * renderDetails is pure, so it is tested on states a process can be in.
 */
import { describe, expect, it } from 'vitest';
import { plain, renderDetails } from '../workflows/currentDetails';
import type { LifecycleState } from '../workflows/definitions';

const base: LifecycleState = {
  process: 'change-user',
  assetNumber: 'A-000001',
  status: 'running',
  step: 'awaiting-collection',
  steps: [],
  reports: [],
  notes: [],
};

describe('current details', () => {
  it('name no contact, mask e-mail addresses in free text and show reporters by role', () => {
    const details = renderDetails({
      ...base,
      status: 'needs-attention',
      failedStep: 'scheduled',
      lastError: 'sendNotice: relay refused taro.yamada@example.co.jp (550)',
      pendingTask: {
        type: 'collect-device',
        step: 'awaiting-collection',
        expects: ['device-collected'],
        assetNumber: 'A-000001',
        contact: { name: '山田 太郎', email: 'taro.yamada@example.co.jp', phone: '+81 3 1234 5678' },
        dueAt: '2026-12-01T00:00:00.000Z',
        createdAt: '2026-11-30T00:00:00.000Z',
        remindersSent: 0,
        escalated: false,
      },
      reports: [
        {
          event: 'device-collected',
          idempotencyKey: 'k',
          actor: { id: 'bob.field@example.com', role: 'field-staff' },
          at: '2026-11-30T00:00:00.000Z',
          outcome: 'rejected',
          step: 'awaiting-collection',
          reason: 'not expected',
        },
      ],
      notes: ['retry requested by alice.admin@example.com: user asked'],
    });
    for (const secret of ['山田', 'taro.yamada', 'bob.field', 'alice.admin', '+81 3 1234 5678']) {
      expect(details).not.toContain(secret);
    }
    expect(details).toContain('a field\\-staff');
    expect(details).toContain('[e-mail]'.replace(/[[\]-]/g, (c) => `\\${c}`));
  });

  it('escape markdown from reports, so a report cannot put a link or an image in the UI', () => {
    const evil = 'see [click here](http://evil.example/x) ![img](http://evil.example/p.png) **bold** <b>x</b>';
    const details = renderDetails({ ...base, notes: [evil] });
    expect(details).not.toMatch(/\[click here\]\(/);
    expect(details).not.toMatch(/!\[img\]\(/);
    expect(details).not.toContain('**bold**');
    expect(details).not.toContain('<b>');
    expect(plain('a\nb')).toBe('a b');
  });
});
