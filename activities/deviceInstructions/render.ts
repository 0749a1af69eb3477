/**
 * The device user's mail for one device-side step of the inactivation: the step's instructions in the
 * words of the asset's platform procedure, in the deployment's language, naming the device so the user
 * knows which one is meant. Pure: the activity (activities/index.ts) loads the asset and sends the mail.
 */
import type { AssetSnapshot, DeviceInstructionArgs, Notice } from '../contracts';
import { IOS_ENGLISH } from './iosEnglish';
import { IOS_JAPANESE } from './iosJapanese';
import { inactivationProcedureFor, isDeviceTaskType, type MailLanguage, type ProcedureName } from './procedures';
import type { ProcedureTexts } from './texts';

const TEXTS: Record<ProcedureName, Record<MailLanguage, ProcedureTexts>> = {
  ios: { en: IOS_ENGLISH, ja: IOS_JAPANESE },
};

/** Why no instructions can be written; the activity fails with it (retrying cannot help). */
export class NoDeviceInstructionsError extends Error {
  override name = 'NoDeviceInstructionsError';
}

export interface RenderedInstructions extends Notice {
  /** True when the asset has no user e-mail and the mail goes to the admins instead. */
  toAdmins: boolean;
}

export function renderDeviceInstructions(
  asset: AssetSnapshot,
  args: DeviceInstructionArgs,
  language: MailLanguage,
  adminEmails: readonly string[],
): RenderedInstructions {
  const platform = asset.platform ?? 'ios';
  const procedure = inactivationProcedureFor(platform);
  if (!procedure) {
    throw new NoDeviceInstructionsError(
      `asset ${asset.assetNumber} is on platform ${platform}, which has no inactivation procedure to instruct its user in`,
    );
  }
  if (!isDeviceTaskType(args.taskType)) {
    throw new NoDeviceInstructionsError(
      `there are no device-user instructions for task type ${args.taskType} (asset ${asset.assetNumber})`,
    );
  }
  const t = TEXTS[procedure][language];
  const step = t.steps[args.taskType];
  const toAdmins = !asset.userEmail;
  const text = [
    toAdmins ? t.greetingAdmins : t.greeting(asset.userName),
    '',
    ...(toAdmins ? [t.forAdmins, ''] : []),
    ...(args.kind === 'reminder' ? [t.reminder, ''] : []),
    ...(args.reopenedBecause ? [t.reopened(args.reopenedBecause), ''] : []),
    ...step.intro,
    '',
    t.device(asset),
    '',
    ...step.body,
    '',
    ...t.closing,
  ].join('\n');
  return {
    to: toAdmins ? [...adminEmails] : [asset.userEmail as string],
    subject: `${t.subjectPrefix[args.kind]}${step.topic(asset.assetNumber)}`,
    text,
    toAdmins,
  };
}
