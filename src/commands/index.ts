import { soraConfigCommandData } from './sora-config.js';
import { soraJobsCommandData } from './sora-jobs.js';
import { soraCommandData } from './sora.js';

/** Every command definition the bot registers, in one list (also used by deploy-commands). */
export const commandDefinitions = [soraCommandData, soraConfigCommandData, soraJobsCommandData];
