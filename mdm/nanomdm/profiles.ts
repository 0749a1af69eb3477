/**
 * A device's ProfileList answer (Apple: ProfileListResponse, an array of profiles each with its payloads)
 * as the port's MdmProfile[]. The enrolment profile is the one carrying the com.apple.mdm payload.
 */
import type { MdmProfile } from '../port';

interface ProfileListItem {
  PayloadIdentifier?: unknown;
  PayloadDisplayName?: unknown;
  PayloadContent?: unknown;
}

export const MDM_PAYLOAD_TYPE = 'com.apple.mdm';

export function profilesFromProfileList(list: unknown): MdmProfile[] {
  if (!Array.isArray(list)) return [];
  return (list as ProfileListItem[])
    .filter((p) => typeof p.PayloadIdentifier === 'string')
    .map((p) => {
      const payloadTypes = Array.isArray(p.PayloadContent)
        ? (p.PayloadContent as Array<{ PayloadType?: unknown }>).map((c) => c.PayloadType)
        : [];
      const identifier = p.PayloadIdentifier as string;
      return {
        identifier,
        kind: payloadTypes.includes(MDM_PAYLOAD_TYPE) ? 'mdm' : 'configuration',
        name: typeof p.PayloadDisplayName === 'string' ? p.PayloadDisplayName : identifier,
      };
    });
}
