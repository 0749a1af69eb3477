/**
 * Which platforms the product has a device-side inactivation procedure for. The API refuses an
 * inactivation for any other platform at start (api/lifecycleStarts.ts) rather than mail its user the
 * wrong steps; the instruction mails (./templates.ts) are written for these procedures only.
 *
 * Today that is the seed's procedure (seeds/003: the MDM's iOS inactivation), which holds for iPadOS
 * too: the same removal profile, the same Settings > General > Profiles, the same client app.
 */
import type { AssetPlatform } from '../../db/types';

/** The procedures the instruction templates are written for. */
export type ProcedureName = 'ios';

const PROCEDURE_OF_PLATFORM: Partial<Record<AssetPlatform, ProcedureName>> = {
  ios: 'ios',
  ipados: 'ios',
};

/** The platforms an inactivation may start for, in ASSET_PLATFORMS order. */
export const PLATFORMS_WITH_INACTIVATION_PROCEDURE = Object.keys(PROCEDURE_OF_PLATFORM) as AssetPlatform[];

/** The inactivation procedure of a platform, or undefined when the product has none. */
export function inactivationProcedureFor(platform: string): ProcedureName | undefined {
  return Object.hasOwn(PROCEDURE_OF_PLATFORM, platform) ? PROCEDURE_OF_PLATFORM[platform as AssetPlatform] : undefined;
}

/** The device-side steps of the inactivation whose instructions the device user gets, by task type. */
export const DEVICE_TASK_TYPES = [
  'install-removal-profile',
  'remove-profiles',
  'remove-client-app',
  'reenroll-device',
] as const;
export type DeviceTaskType = (typeof DEVICE_TASK_TYPES)[number];

export function isDeviceTaskType(taskType: string): taskType is DeviceTaskType {
  return (DEVICE_TASK_TYPES as readonly string[]).includes(taskType);
}

/** The languages the instruction mails are written in (config MAIL_LANGUAGE). */
export const MAIL_LANGUAGES = ['en', 'ja'] as const;
export type MailLanguage = (typeof MAIL_LANGUAGES)[number];
