// Publication wiring: when a period's results become final, the accountability cases of SPEC §4
// are opened (idempotently). Importing this module (services/jobs.ts and the routes do) installs
// the hook, so every publish path — the API, the admin page, the nightly job — opens the cases.
import { openCasesForPeriod } from './accountability.ts';
import { publish, reopen, runScoreJob, setAfterPublish } from './scoring.ts';

setAfterPublish(openCasesForPeriod);

export { publish, reopen, runScoreJob };
