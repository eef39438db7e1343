import type { ModelCatalogue } from '../services/capabilities.js';
import { soraConfigCommandData } from './sora-config.js';
import { soraJobsCommandData } from './sora-jobs.js';
import { soraCommandData } from './sora.js';

/**
 * Every command definition the bot registers, in one list (also used by
 * deploy-commands). `/sora` is built from the model catalogue, so a
 * catalogue change is a definition change, and the start-up sync notices.
 */
export function commandDefinitions(catalogue: ModelCatalogue) {
  return [soraCommandData(catalogue), soraConfigCommandData, soraJobsCommandData];
}
