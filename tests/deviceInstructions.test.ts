/**
 * The device user's instructions (issue 10, requirement 6) on real parts: the activity reads the asset from
 * PostgreSQL and mails through SMTP to the sink, for each device-side step of the inactivation in English
 * and Japanese, in the seed procedure's terms; once per idempotency key; to the admins when the asset has
 * no user e-mail. Assets record their platform through the API and the CSV import, and an inactivation of
 * a platform without a procedure is refused at start (single and bulk) with nothing started.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, snapshot } from '../activities';
import type { DeviceInstructionArgs, LifecycleActivities, OpenTask, StepContext } from '../activities/contracts';
import { renderDeviceInstructions } from '../activities/deviceInstructions/render';
import { DEVICE_TASK_TYPES, type MailLanguage } from '../activities/deviceInstructions/procedures';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import * as tasksRepo from '../db/tasksRepo';
import type { AssetInput } from '../db/types';
import { createSmtpMailer, type SmtpMailer } from '../mail/mailer';
import type { MdmPort } from '../mdm/port';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { assetSeries } from './support/fixtures';
import { ADMIN_EMAILS } from './support/lifecycleHarness';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();
const no = assetSeries();
const { base } = no;

let mailer: SmtpMailer;
beforeAll(() => {
  mailer = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${h.mail.port}`, from: 'device-lifecycle@example.com' });
});
afterAll(() => {
  mailer?.close();
});

/** The activities as the worker builds them, in a deployment whose MAIL_LANGUAGE is `language`. */
const activitiesIn = (language?: MailLanguage): LifecycleActivities =>
  createActivities({
    db: h.db.pool,
    mdm: {} as MdmPort,
    mail: mailer,
    adminEmails: ADMIN_EMAILS,
    ...(language ? { mailLanguage: language } : {}),
  });

const ctxFor = (assetNumber: string, purpose: string): StepContext => ({
  assetNumber,
  workflowId: `device-${assetNumber}`,
  runId: 'run-1',
  step: 'awaiting-removal-profile',
  actor: { id: 'workflow', role: 'system' },
  idempotencyKey: `device-${assetNumber}:run-1:${purpose}:${randomUUID()}`,
});

async function seedAsset(n: number, extra: Partial<AssetInput> = {}) {
  const { asset } = await assetsRepo.upsert(h.db.pool, {
    assetNumber: no(n),
    serialNumber: `SN-DI-${base + n}`,
    model: 'iPhone 15 Pro',
    department: 'Sales',
    location: 'Tokyo HQ',
    status: 'in_use',
    userName: '山田 太郎',
    userEmail: `user${n}@example.com`,
    ...extra,
  });
  return asset;
}

/** The mail the sink holds under this idempotency key (X-Idempotency-Key), every copy of it. */
const mailsWithKey = (key: string) => h.mail.messages().filter((m) => m.headers['x-idempotency-key'] === key);

/** Phrases each step's mail must carry, in the seed's terms, per language. */
const PHRASES: Record<MailLanguage, Record<(typeof DEVICE_TASK_TYPES)[number], string[]>> = {
  en: {
    'install-removal-profile': [
      'Tap the push notification shown on the device, or tap the client app (MobiConnect).',
      'If the device says "Invalid password", enter nothing and tap "OK".',
      'the MDM profile that cannot be removed, so that it can be removed',
      'the device must be registered in the MDM again',
      'Do not delete the client app (MobiConnect) yet',
      'factory reset',
    ],
    'remove-profiles': [
      'Settings > General > Profiles',
      'Under "Mobile Device Management", remove the Apple MDM profile.',
      'under "Configuration Profile", remove the IVI MDM profile',
      'Check that no profile remains.',
      'If a profile has no Remove button',
      'deleting the app then forces a factory reset',
    ],
    'remove-client-app': [
      'Do this only once the previous step, removing the profiles, is complete.',
      'deleting the client app while the App Store is still restricted forces a factory reset',
      'touch and hold "MobiConnect"',
      'Check that the MobiConnect app is gone.',
    ],
    'reenroll-device': [
      'The inactivation of your device did not complete',
      'registered in the MDM again and become active in the console',
      'install the MDM agent (the client app MobiConnect) and apply the MDM policy',
      'the inactivation then starts again from the beginning',
    ],
  },
  ja: {
    'install-removal-profile': [
      '端末に表示されたPUSH通知、またはクライアントアプリ（MobiConnect）をタップします。',
      '※「不正なパスワード」と表示された場合は、何も入力せずに「OK」ボタンをタップします。',
      '削除することができないプロファイルを、削除可能にするために上書きインストールします。',
      '再度端末登録を実施してから、インアクティベーション処理を実行する必要があります。',
      'クライアントアプリ（MobiConnect）はまだ削除しないでください',
      '端末の初期化が必要となる可能性があります',
    ],
    'remove-profiles': [
      '「設定」>「一般」>「プロファイル」を押下し、2つ以上のプロファイルが存在することを確認します。',
      '「モバイルデバイス管理」より、Apple MDMプロファイルを削除します。',
      '「構成プロファイル」より、IVI MDMプロファイルを削除します。',
      'プロファイルが存在しないことを確認します。',
      '【注意事項】プロファイルの削除ボタンが表示されない場合',
    ],
    'remove-client-app': [
      '前手順「プロファイルの削除」が終了していることを確認します。終了していない場合、本手順は実行しないでください。',
      'AppStoreが制限されている状態で本手順を実行した場合、端末の初期化が必要になります。',
      '「MobiConnect」を長押しします。',
      'MobiConnectアプリが削除されたことを確認します。',
    ],
    'reenroll-device': [
      'インアクティベーションが完了しなかったため、やり直しが必要です。',
      '再度端末登録を行い、管理画面上で該当端末を有効状態にする必要があります。',
      'インアクティベーション手順を最初からやり直します。',
    ],
  },
};

describe('the instructions activity', () => {
  for (const language of ['en', 'ja'] as const) {
    for (const taskType of DEVICE_TASK_TYPES) {
      it(`mails the ${taskType} instructions in ${language}, naming the device, once per key`, async () => {
        const n = 100 + DEVICE_TASK_TYPES.indexOf(taskType) + (language === 'ja' ? 10 : 0);
        const asset = await seedAsset(n);
        const ctx = ctxFor(asset.assetNumber, taskType);
        const args: DeviceInstructionArgs = { taskType, kind: 'instructions' };
        const acts = activitiesIn(language);

        await acts.sendDeviceInstructions(ctx, args);
        await acts.sendDeviceInstructions(ctx, args); // a retry of the same step's mail

        const copies = mailsWithKey(ctx.idempotencyKey);
        expect(copies).toHaveLength(1);
        const mail = copies[0]!;
        expect(mail.to).toEqual([asset.userEmail]);
        // Sent as rendered: the transfer encoding kept every character (Japanese, ×, 「」, ＞).
        const expected = renderDeviceInstructions(snapshot(asset), args, language, ADMIN_EMAILS);
        expect(mail.subject).toBe(expected.subject);
        expect(mail.text.trim()).toBe(expected.text);
        for (const phrase of [...PHRASES[language][taskType], asset.assetNumber, asset.serialNumber, 'iPhone 15 Pro'])
          expect(mail.text).toContain(phrase);
        expect(mail.text).toContain(language === 'ja' ? '山田 太郎 様' : 'Dear 山田 太郎,');
        expect(mail.subject).toContain(asset.assetNumber);
        expect(mail.subject.startsWith(language === 'ja' ? '【対応のお願い】' : 'Action needed: ')).toBe(true);
        // The other language's words are not in it.
        expect(mail.text).not.toContain(language === 'ja' ? 'Invalid password' : '不正なパスワード');

        const events = (await eventsRepo.listForAsset(h.db.pool, asset.assetNumber)).filter(
          (e) => e.eventType === 'notice-sent',
        );
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          idempotencyKey: ctx.idempotencyKey,
          workflowId: ctx.workflowId,
          step: ctx.step,
          details: {
            kind: 'device-instructions',
            taskType,
            language,
            toAdmins: false,
            to: [asset.userEmail],
            subject: expected.subject,
            messageId: mail.messageId,
          },
        });
      });
    }
  }

  it('writes in English when the deployment names no language', async () => {
    const asset = await seedAsset(130);
    const ctx = ctxFor(asset.assetNumber, 'default-language');
    await activitiesIn().sendDeviceInstructions(ctx, { taskType: 'install-removal-profile', kind: 'instructions' });
    const [mail] = mailsWithKey(ctx.idempotencyKey);
    expect(mail?.text).toContain('If the device says "Invalid password", enter nothing and tap "OK".');
  });

  it('sends a reminder with the reason the step reopened, and counts it on the open task', async () => {
    const asset = await seedAsset(131, { platform: 'ipados', model: 'iPad Air' });
    const ctx = { ...ctxFor(asset.assetNumber, 'reminder-1'), step: 'awaiting-profile-removal' };
    const task: OpenTask = {
      workflowId: ctx.workflowId,
      runId: ctx.runId,
      taskQueue: `q-${base}`,
      occurrence: 3,
      process: 'inactivation',
      type: 'remove-profiles',
      step: 'awaiting-profile-removal',
      expects: ['profiles-removed', 'profile-removal-failed'],
      assetNumber: asset.assetNumber,
      department: asset.department,
      location: asset.location,
      contact: { name: asset.userName ?? undefined, email: asset.userEmail ?? undefined },
      dueAt: new Date(Date.now() + 86_400_000).toISOString(),
      escalateAt: null,
      createdAt: new Date().toISOString(),
      remindersSent: 0,
      escalated: false,
    };
    const acts = activitiesIn('ja');
    await acts.openTask(task);
    const because = 'the MDM still shows the IVI MDM profile on the device';
    const args: DeviceInstructionArgs = {
      taskType: 'remove-profiles',
      kind: 'reminder',
      reopenedBecause: because,
      count: { occurrence: 3, remindersSent: 1, escalated: false },
    };
    await acts.sendDeviceInstructions(ctx, args);
    await acts.sendDeviceInstructions(ctx, args);

    const copies = mailsWithKey(ctx.idempotencyKey);
    expect(copies).toHaveLength(1);
    expect(copies[0]!.subject).toBe(
      `【リマインド】端末 ${asset.assetNumber}：プロファイルの削除（インアクティベーション 手順2/3）`,
    );
    expect(copies[0]!.text).toContain('下記の作業がまだ完了していません。');
    expect(copies[0]!.text).toContain(`この手順を再度お願いしています（理由：${because}）。`);
    expect(copies[0]!.text).toContain('iPad Air');
    expect(await tasksRepo.get(h.db.pool, ctx.workflowId)).toMatchObject({ remindersSent: 1, escalated: false });
    const event = await eventsRepo.getByIdempotencyKey(h.db.pool, ctx.idempotencyKey);
    expect(event?.details).toMatchObject({ kind: 'device-reminder', taskType: 'remove-profiles', language: 'ja' });
  });

  it('mails the admins, saying so, when the asset has no user e-mail', async () => {
    for (const language of ['en', 'ja'] as const) {
      const asset = await seedAsset(language === 'en' ? 140 : 141, { userEmail: null, userName: null });
      const ctx = ctxFor(asset.assetNumber, 'no-user-mail');
      await activitiesIn(language).sendDeviceInstructions(ctx, { taskType: 'remove-client-app', kind: 'instructions' });
      const [mail] = mailsWithKey(ctx.idempotencyKey);
      expect(mail?.to).toEqual(ADMIN_EMAILS);
      expect(mail?.text).toContain(
        language === 'en'
          ? 'This device has no user e-mail in the asset database, so the instructions for its user come to you'
          : 'この端末には利用者のメールアドレスが登録されていないため、端末利用者向けのご案内を管理者の皆様へお送りしています。',
      );
      expect(mail?.text).toContain(
        language === 'en' ? 'touch and hold "MobiConnect"' : '「MobiConnect」を長押しします。',
      );
      const event = await eventsRepo.getByIdempotencyKey(h.db.pool, ctx.idempotencyKey);
      expect(event?.details).toMatchObject({ toAdmins: true, to: ADMIN_EMAILS, language });
    }
  });

  it('refuses for good, sending nothing, for a platform without a procedure or a step without instructions', async () => {
    const android = await seedAsset(150, { platform: 'android', model: 'Pixel 8' });
    const ctx = ctxFor(android.assetNumber, 'android');
    await expect(
      activitiesIn('en').sendDeviceInstructions(ctx, { taskType: 'install-removal-profile', kind: 'instructions' }),
    ).rejects.toMatchObject({
      type: 'NoDeviceInstructions',
      nonRetryable: true,
      message: expect.stringContaining('android'),
    });
    const ios = await seedAsset(151);
    const other = ctxFor(ios.assetNumber, 'collect');
    await expect(
      activitiesIn('en').sendDeviceInstructions(other, { taskType: 'collect-device', kind: 'instructions' }),
    ).rejects.toMatchObject({ type: 'NoDeviceInstructions', message: expect.stringContaining('collect-device') });
    expect([...mailsWithKey(ctx.idempotencyKey), ...mailsWithKey(other.idempotencyKey)]).toEqual([]);
    expect(await eventsRepo.getByIdempotencyKey(h.db.pool, ctx.idempotencyKey)).toBeNull();
  });
});

describe('assets record their platform', () => {
  const body = (n: number, extra: Record<string, unknown> = {}) => ({
    assetNumber: no(n),
    serialNumber: `SN-DI-${base + n}`,
    model: 'Pixel 8',
    department: 'Sales',
    location: 'Tokyo HQ',
    ...extra,
  });
  const post = (b: unknown) => api.call('POST', '/api/v1/assets', { token: TOKENS.admin, body: b });
  const read = async (n: number) => (await api.call('GET', `/api/v1/assets/${no(n)}`, { token: TOKENS.viewer })).body;

  it('takes the platform on create (iOS when absent) and on update, and refuses an unknown one naming the field', async () => {
    const created = await post(body(200, { platform: 'android' }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.asset.platform).toBe('android');
    const plain = await post(body(201, { model: 'iPhone 15' }));
    expect(plain.body.asset.platform).toBe('ios');

    const updated = await post(body(201, { model: 'iPhone 15', platform: 'ipados', version: 1 }));
    expect(updated.status).toBe(200);
    expect(updated.body.event.changes).toEqual({ platform: { from: 'ios', to: 'ipados' } });
    // Absent on update: left as it is.
    expect((await post(body(201, { model: 'iPhone 15' }))).body.asset.platform).toBe('ipados');
    expect((await read(201)).asset.platform).toBe('ipados');

    for (const platform of ['symbian', 'iOS', null, 7]) {
      const bad = await post(body(202, { platform }));
      expect(bad.status, JSON.stringify(platform)).toBe(400);
      expect(bad.body.error.details.problems).toEqual([{ field: 'platform', problem: expect.stringContaining('ios') }]);
    }
    expect((await api.call('GET', `/api/v1/assets/${no(202)}`, { token: TOKENS.viewer })).status).toBe(404);
  });

  it('imports a Platform column as people write it (iOS when empty or absent), and refuses a bad one', async () => {
    const text =
      'Asset #,Serial Number,Model,Department,Location,Platform\r\n' +
      `${no(210)},SN-DI-${base + 210},Pixel 8,Sales,Tokyo,Android\r\n` +
      `${no(211)},SN-DI-${base + 211},iPad Air,Sales,Tokyo,iPadOS\r\n` +
      `${no(212)},SN-DI-${base + 212},iPhone 15,Sales,Tokyo,\r\n`;
    const res = await api.call('POST', '/api/v1/assets/import', {
      token: TOKENS.admin,
      body: text,
      contentType: 'text/csv',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ created: 3 });
    expect((await read(210)).asset.platform).toBe('android');
    expect((await read(211)).asset.platform).toBe('ipados');
    expect((await read(212)).asset.platform).toBe('ios');

    // A file without the column leaves the platform alone; an empty cell does too.
    const seedList = `Asset #,Location,Version\r\n${no(210)},Osaka,1\r\n`;
    expect(
      (
        await api.call('POST', '/api/v1/assets/import', {
          token: TOKENS.admin,
          body: seedList,
          contentType: 'text/csv',
        })
      ).status,
    ).toBe(200);
    expect((await read(210)).asset).toMatchObject({ platform: 'android', location: 'Osaka' });
    const empty = `Asset #,Platform\r\n${no(211)},\r\n`;
    expect(
      (await api.call('POST', '/api/v1/assets/import', { token: TOKENS.admin, body: empty, contentType: 'text/csv' }))
        .body,
    ).toMatchObject({ unchanged: 1 });

    const bad = `Asset #,Serial Number,Model,Department,Location,OS\r\n${no(213)},SN-DI-${base + 213},Nokia,Sales,Tokyo,Symbian\r\n`;
    const refused = await api.call('POST', '/api/v1/assets/import', {
      token: TOKENS.admin,
      body: bad,
      contentType: 'text/csv',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('invalid-csv');
    expect(refused.body.error.details.errors).toEqual([
      { row: 2, column: 'OS', message: expect.stringContaining('ios, ipados, android, windows, macos') },
    ]);
    expect((await api.call('GET', `/api/v1/assets/${no(213)}`, { token: TOKENS.viewer })).status).toBe(404);
  });
});

describe('an inactivation for a platform without a procedure', () => {
  const notStarted = async (assetNumber: string) => {
    await expect(api.temporal.workflow.getHandle(workflowIdFor(assetNumber)).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  };

  it('is refused at start naming the platform and the asset, and starts nothing', async () => {
    const assetNumber = no(300);
    await h.seedDevice({ assetNumber, platform: 'android', model: 'Pixel 8' });
    const res = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Leaver' },
      headers: { 'idempotency-key': `refused-${base}-300` },
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'platform-not-supported',
      details: { asset: assetNumber, platform: 'android', supported: ['ios', 'ipados'] },
    });
    expect(res.body.error.message).toBe(
      `asset ${assetNumber} is on platform android, which has no inactivation procedure (only ios, ipados have one); nothing was started`,
    );
    // Forced too: nothing device-side would run, but the product does not know that platform's consequences.
    const forced = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Leaver', forced: true, acknowledgeProfileStays: true },
    });
    expect(forced.status).toBe(409);
    await notStarted(assetNumber);
    expect(await h.eventTypes(assetNumber)).toEqual([]);
  });

  it('is refused in its row of a bulk request while the other rows start', async () => {
    const windows = no(310);
    const ipad = no(311);
    await h.seedDevice({ assetNumber: windows, platform: 'windows', model: 'Surface Go' });
    await h.seedDevice({ assetNumber: ipad, platform: 'ipados', model: 'iPad Air' });
    const res = await api.call('POST', '/api/v1/inactivations', {
      token: TOKENS.admin,
      body: { reason: 'Office closing', assetNumbers: [windows, ipad] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results).toEqual([
      {
        assetNumber: windows,
        result: 'invalid',
        error: {
          code: 'platform-not-supported',
          message: expect.stringContaining('platform windows, which has no inactivation procedure'),
          details: { platform: 'windows', supported: ['ios', 'ipados'] },
        },
      },
      expect.objectContaining({ assetNumber: ipad, result: 'started', workflowId: workflowIdFor(ipad) }),
    ]);
    const stored = await api.call('GET', `/api/v1/bulk/${res.body.bulkId}`, { token: TOKENS.viewer });
    expect(stored.body.results[0]).toMatchObject({ result: 'invalid', error: { code: 'platform-not-supported' } });
    await notStarted(windows);
    await api.temporal.workflow.getHandle(workflowIdFor(ipad)).cancel();
  });

  it('leaves change-user alone: its steps do not depend on the platform', async () => {
    const assetNumber = no(320);
    await h.seedDevice({ assetNumber, platform: 'android', model: 'Pixel 8' });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    await handle.cancel();
  });
});
