/**
 * The profile inventory an MDM reports for a device (GET /devices/{id}/profiles), the way an Apple MDM
 * lists installed profiles: a PayloadIdentifier and a display name. The device model keeps only the kind
 * ('mdm', 'configuration', 'removal'); this maps it to what a console would show.
 */
import type { Device } from './types';

export type ProfileKind = 'mdm' | 'configuration' | 'removal' | 'other';

export interface ProfileView {
  identifier: string;
  kind: ProfileKind;
  name: string;
}

const catalogue: Record<string, ProfileView> = {
  mdm: { identifier: 'com.example.mdm', kind: 'mdm', name: 'MDM Profile' },
  configuration: { identifier: 'com.example.configuration', kind: 'configuration', name: 'Configuration Profile' },
  removal: { identifier: 'com.example.mdm.removal', kind: 'removal', name: 'Removal Profile' },
};

export function profilesOf(device: Device): ProfileView[] {
  return device.profiles.map(
    (profile) => catalogue[profile] ?? { identifier: `com.example.${profile}`, kind: 'other', name: profile },
  );
}
