import type { SecretValue } from '../../providers/sdk/index.ts';
import type { Alert } from './alert.ts';
import { type AlertChannel, postJson } from './channel.ts';

const TITLES: Record<Alert['type'], string> = {
  opened: ':warning: Drift detected',
  reminder: ':alarm_clock: Drift still open',
  resolved: ':white_check_mark: Drift resolved',
  changed: ':warning: Drift changed',
  healed: ':wrench: Drift healed (changed by hand, put back by keelson)',
};

/** What happens next, per policy, in words. */
const POLICY_NOTE: Record<string, string> = {
  enforce: 'policy enforce: keelson puts it back',
  observe: 'policy observe: keelson only reports it, fix it in Git or by hand',
  paused: 'policy paused: keelson leaves it alone',
};

/** The readable message: resource, fields with before → after, link to /status. */
export function rocketChatText(alert: Alert): string {
  const lines = [
    `${TITLES[alert.type]} on \`${alert.key}\` (${POLICY_NOTE[alert.policy] ?? `policy ${alert.policy}`})`,
  ];
  for (const f of alert.fields) {
    lines.push(
      alert.type === 'resolved'
        ? `• \`${f.path}\``
        : alert.type === 'healed'
          ? `• \`${f.path}\`: was ${f.before} live, set back to ${f.after} from Git`
          : `• \`${f.path}\`: ${f.before} → ${f.after} (Git wants ${f.after})`,
    );
  }
  const when = alert.type === 'healed' ? `healed ${alert.at}` : `first seen ${alert.firstSeen}`;
  lines.push(`revision ${alert.revision.slice(0, 12)} · ${when} · <${alert.statusUrl}|status>`);
  return lines.join('\n');
}

/** RocketChat incoming webhook (`{ text }`). The URL contains the hook's token, so it is a `SecretValue`. */
export class RocketChatChannel implements AlertChannel {
  readonly name = 'rocketchat';
  readonly #url: SecretValue;

  constructor(url: SecretValue) {
    this.#url = url;
  }

  async send(alert: Alert, signal: AbortSignal): Promise<void> {
    await postJson(this.name, this.#url.reveal(), JSON.stringify({ text: rocketChatText(alert) }), {}, signal);
  }
}
