/** The shape every language's instruction texts share, so a missing step or language fails to compile. */
import type { DeviceTaskType } from './procedures';

export interface DeviceDescription {
  assetNumber: string;
  model: string;
  serialNumber: string;
}

export interface StepText {
  /** What the step is, for the subject line (after the kind's prefix). */
  topic: (assetNumber: string) => string;
  /** What the process is and why this step is asked for; the procedure's warning. */
  intro: string[];
  /** The step in the procedure's own words, with its cautions. */
  body: string[];
}

export interface ProcedureTexts {
  subjectPrefix: { instructions: string; reminder: string };
  greeting: (userName: string | null) => string;
  greetingAdmins: string;
  /** Said first when the mail goes to the admins because the asset has no user e-mail. */
  forAdmins: string;
  reminder: string;
  reopened: (because: string) => string;
  device: (d: DeviceDescription) => string;
  closing: string[];
  steps: Record<DeviceTaskType, StepText>;
}
