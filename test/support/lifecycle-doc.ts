import prettier from 'prettier';
import { EVENT_SOURCES, GROUPS, JOB_STATUSES, STATUSES, type StatusGroup } from '../../src/jobs/lifecycle.js';

/**
 * The README's lifecycle tables, generated from src/jobs/lifecycle.ts and
 * formatted as Prettier formats the README, so a test can check the README
 * shows the table the code runs on.
 */
export async function lifecycleTables(): Promise<string> {
  const groups = Object.keys(GROUPS) as StatusGroup[];
  const statusRows = JOB_STATUSES.map((s) => {
    const spec = STATUSES[s];
    const marks = groups.map((g) => ((spec.groups as readonly string[]).includes(g) ? '✓' : ''));
    return `| \`${s}\` | ${spec.means} | ${marks.join(' | ')} |`;
  });
  const eventRows = Object.entries(EVENT_SOURCES).map(
    ([event, from]) => `| \`${event}\` | ${from.map((s) => `\`${s}\``).join(', ')} |`,
  );
  const md = [
    `| status | means | ${groups.join(' | ')} |`,
    `| --- | --- | ${groups.map(() => '---').join(' | ')} |`,
    ...statusRows,
    '',
    '| event | may happen in |',
    '| --- | --- |',
    ...eventRows,
    '',
  ].join('\n');
  const options = (await prettier.resolveConfig('README.md')) ?? {};
  return prettier.format(md, { ...options, parser: 'markdown' });
}
