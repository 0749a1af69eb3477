/**
 * The seed's inactivation procedure (seeds/003, the MDM vendor's iOS guide) in English, one text per
 * device-side step, in the procedure's own terms: the removal profile from the push notification, the
 * "Invalid password" prompt answered with OK, the Apple MDM profile and the IVI MDM configuration profile,
 * the client app (MobiConnect) deleted only after that, re-registration after a failure.
 */
import type { ProcedureTexts } from './texts';

const WARNING =
  'Doing these steps in the wrong order can leave the device needing a factory reset: please read each step ' +
  'and do exactly what it says, in order.';

const INACTIVATION_INTRO = [
  'Your device is being inactivated (taken out of the MDM). The IT administrators have requested the ' +
    'inactivation in the MDM console; the next steps are done on the device, by you.',
  WARNING,
];

const TELL_IT = (next: string) =>
  `When this is done, tell IT (or the field staff who look after your device) so they can report it. ${next}`;

export const IOS_ENGLISH: ProcedureTexts = {
  subjectPrefix: { instructions: 'Action needed: ', reminder: 'Reminder: ' },
  greeting: (name) => `Dear ${name ?? 'device user'},`,
  greetingAdmins: 'Dear IT administrators,',
  forAdmins:
    'This device has no user e-mail in the asset database, so the instructions for its user come to you: ' +
    'please pass them on to whoever has the device.',
  reminder: 'This is a reminder: the step below is still waiting to be done.',
  reopened: (because) => `This step is asked for again: ${because}`,
  device: (d) => `Device: ${d.model}, asset number ${d.assetNumber}, serial number ${d.serialNumber}`,
  closing: ['Thank you.', 'IT asset management'],
  steps: {
    'install-removal-profile': {
      topic: (a) => `install the removal profile on device ${a} (inactivation, step 1 of 3)`,
      intro: INACTIVATION_INTRO,
      body: [
        'Step 1 of 3: install the removal profile',
        '',
        '1. Tap the push notification shown on the device, or tap the client app (MobiConnect).',
        '2. The profile installation screen opens: install the profile. This removal profile is installed over ' +
          'the MDM profile that cannot be removed, so that it can be removed.',
        '   If the device says "Invalid password", enter nothing and tap "OK".',
        '3. Follow the screens to finish installing the profile.',
        '',
        'If the profile installation screen does not open:',
        '- If Safari stops while opening it, see the MobiConnect FAQ.',
        '- If Settings does not lead to the profile installation screen, stop here and tell IT: the device must ' +
          'be registered in the MDM again before the inactivation can be done.',
        '',
        'Do not delete the client app (MobiConnect) yet: that is the last step, after the profiles are removed.',
        TELL_IT('You will then get the next step.'),
      ],
    },
    'remove-profiles': {
      topic: (a) => `remove the MDM profile and the configuration profile from device ${a} (inactivation, step 2 of 3)`,
      intro: INACTIVATION_INTRO,
      body: [
        'Step 2 of 3: remove the profiles',
        '',
        '1. Open Settings > General > Profiles and check that there are two or more profiles.',
        '2. Under "Mobile Device Management", remove the Apple MDM profile.',
        '3. Likewise, under "Configuration Profile", remove the IVI MDM profile. It can only be removed once the ' +
          'inactivation was executed and the removal profile installed.',
        '4. Check that no profile remains.',
        '',
        'If a profile has no Remove button: the inactivation was not executed, or the installation of the ' +
          'removal profile was cancelled or never done. Stop here and tell IT: the device must be registered ' +
          'again and made active in the console, and the inactivation then done again from the beginning.',
        '',
        'Do not delete the client app (MobiConnect) yet. While the profiles are on the device the App Store is ' +
          'restricted, and deleting the app then forces a factory reset.',
        TELL_IT('You will then get the last step.'),
      ],
    },
    'remove-client-app': {
      topic: (a) => `delete the client app from device ${a} (inactivation, step 3 of 3)`,
      intro: INACTIVATION_INTRO,
      body: [
        'Step 3 of 3: delete the client app',
        '',
        'Do this only once the previous step, removing the profiles, is complete. If it is not, do not do this ' +
          'step: deleting the client app while the App Store is still restricted forces a factory reset. ' +
          '(This step is sent only once the MDM shows no profile left on your device.)',
        '',
        '1. On the home screen, touch and hold "MobiConnect".',
        '2. Tap the "×" button shown, and delete the app.',
        '3. Check that the MobiConnect app is gone.',
        '',
        TELL_IT(
          'IT then checks in the MDM console that the inactivation succeeded and the device is inactive, and ' +
            'deletes it from the MDM; nothing more needs doing on the device.',
        ),
      ],
    },
    'reenroll-device': {
      topic: (a) => `register device ${a} in the MDM again (the inactivation is to be redone)`,
      intro: [
        'The inactivation of your device did not complete, so it has to be done again. Before that, the device ' +
          'must be registered in the MDM again and become active in the console; the inactivation then starts ' +
          'again from the beginning.',
        WARNING,
      ],
      body: [
        'Register the device again',
        '',
        '1. Register the device in the MDM as when it was first set up: install the MDM agent (the client app ' +
          'MobiConnect) and apply the MDM policy (install the MDM profile it offers). Ask IT for the registration ' +
          'details if you do not have them.',
        '2. Check that the registration completed.',
        '',
        'Do not delete the client app, and do not reset the device yourself.',
        TELL_IT(
          'IT then checks that the device is active in the console and requests the inactivation again; you will ' +
            'get the instructions from the first step again.',
        ),
      ],
    },
  },
};
