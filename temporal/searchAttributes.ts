/**
 * Custom search attributes the workflows keep current so an admin can filter and read progress in the
 * Temporal Web UI. Safe to import from workflow code (no Node built-ins).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const AssetNumberKey = defineSearchAttributeKey('AssetNumber', SearchAttributeType.KEYWORD);
export const LifecycleStepKey = defineSearchAttributeKey('LifecycleStep', SearchAttributeType.KEYWORD);
export const AwaitingTaskKey = defineSearchAttributeKey('AwaitingTask', SearchAttributeType.KEYWORD);
export const DepartmentKey = defineSearchAttributeKey('Department', SearchAttributeType.KEYWORD);
export const LocationKey = defineSearchAttributeKey('Location', SearchAttributeType.KEYWORD);
export const LifecycleProcessKey = defineSearchAttributeKey('LifecycleProcess', SearchAttributeType.KEYWORD);
export const NeedsAttentionKey = defineSearchAttributeKey('NeedsAttention', SearchAttributeType.BOOL);
/** running, needs-attention, completed, cancelled or aborted (records-1): the UI never shows an aborted process as merely Completed. */
export const LifecycleStatusKey = defineSearchAttributeKey('LifecycleStatus', SearchAttributeType.KEYWORD);
/** The collection campaign (bulk id) a change-user was started by, set at start: the UI filters a campaign. */
export const CampaignIdKey = defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD);

export const customSearchAttributes = [
  AssetNumberKey,
  LifecycleStepKey,
  AwaitingTaskKey,
  DepartmentKey,
  LocationKey,
  LifecycleProcessKey,
  NeedsAttentionKey,
  LifecycleStatusKey,
  CampaignIdKey,
] as const;

/** `Name=Type` pairs in the form `temporal server start-dev --search-attribute` and the CLI accept. */
export function searchAttributeCliArgs(): string[] {
  return customSearchAttributes.flatMap((k) => [
    '--search-attribute',
    `${k.name}=${k.type === SearchAttributeType.BOOL ? 'Bool' : 'Keyword'}`,
  ]);
}
