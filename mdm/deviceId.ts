/**
 * What an MDM device id may look like wherever it enters (API asset writes, the CSV import, reports, the
 * MDM adapters). Adapters put the id in URL paths: `.`, `..`, `/`, `?`, `#` or `%` would leave the
 * device's path (`/devices/..` resolves to the MDM's root) or change the request. The ids of the MDMs we
 * speak to (the emulator's `mdm-<uuid>`, Intune's GUIDs, Apple UDIDs) all fit.
 */
export const MDM_DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const MDM_DEVICE_ID_RULE =
  'must be an MDM device id: a letter or digit, then up to 127 letters, digits, . _ : or - (not . or ..)';

export function isMdmDeviceId(value: string): boolean {
  return MDM_DEVICE_ID_PATTERN.test(value) && value !== '.' && value !== '..';
}
