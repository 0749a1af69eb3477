/**
 * The person to contact about a device's task: its current user, as the asset records them. Plain code
 * (no workflow API), so the workflow and the activity that opens a task's row ahead of it (lean-1) agree.
 */
import type { AssetSnapshot } from '../activities/contracts';

export function taskContactOf(asset: Pick<AssetSnapshot, 'userName' | 'userEmail' | 'userPhone'>) {
  return {
    name: asset.userName ?? undefined,
    email: asset.userEmail ?? undefined,
    phone: asset.userPhone ?? undefined,
  };
}
