/** The texts of the mails people receive; kept apart from the activities so wording changes stay local. */
import type { NewUser } from '../workflows/reportSchemas';
import type { AssetSnapshot, Notice } from './contracts';

export function collectionNotice(asset: AssetSnapshot, plannedDate: string, reason: string): Notice {
  return {
    to: [asset.userEmail as string],
    subject: `Your device ${asset.assetNumber} will be collected on ${plannedDate.slice(0, 10)}`,
    text: [
      `Dear ${asset.userName ?? 'user'},`,
      '',
      `The ${asset.model} (asset ${asset.assetNumber}, serial ${asset.serialNumber}) assigned to you will be collected on ${plannedDate.slice(0, 10)}.`,
      `Reason: ${reason}`,
      '',
      'Please back up anything you need and keep the device charged and at hand on that day.',
    ].join('\n'),
  };
}

export function deliveryNotice(asset: AssetSnapshot, user: NewUser): Notice {
  return {
    to: [user.email],
    subject: `A device (${asset.assetNumber}) is on its way to you`,
    text: [
      `Dear ${user.name},`,
      '',
      `The ${asset.model} (asset ${asset.assetNumber}) has been assigned to you and will be delivered to ${user.location}.`,
      'Please sign the distribution list when you receive it.',
    ].join('\n'),
  };
}
