/**
 * The actor as sent to a workflow (reports, admin commands, starts). The workflows validate it with
 * workflows/reportSchemas.ts `actorSchema`, a strict object: the credential that acted goes along as
 * soon as that schema has a `credential` field, and not before (an unknown field would be refused).
 */
import { actorSchema } from '../../workflows/reportSchemas';
import type { Actor } from './types';

export const WORKFLOWS_TAKE_CREDENTIAL = 'credential' in actorSchema.shape;

export interface WorkflowActor {
  id: string;
  role: Actor['role'];
  credential?: string;
}

export function workflowActor(actor: Actor): WorkflowActor {
  const sent: WorkflowActor = { id: actor.id, role: actor.role };
  if (WORKFLOWS_TAKE_CREDENTIAL && actor.credential) sent.credential = actor.credential;
  return sent;
}
