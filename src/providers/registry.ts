import type { Channel } from '../config.ts';
import { DEFAULT_BASE_URLS } from '../config.ts';
import type { ProviderClient } from './types.ts';
import { createCloudClient } from './cloud.ts';
import { createD360Client } from './d360.ts';
import { createBspClient } from './bsp.ts';
import { createOnPremClient } from './onprem.ts';
import { createVerihubsClient } from './verihubs.ts';

export interface SandboxEndpoint {
  url: string;
  phoneNumberId: string;
}

export interface ClientOptions {
  /** PUBLIC_URL: verihubs builds its `callback_url` from it. */
  publicUrl?: string | undefined;
}

/**
 * A channel setting the provider cannot work without. loadConfig already checks these (and fills the
 * default base URLs), so this only fires for a Channel built some other way: say which key is missing
 * instead of sending to `undefined/messages`.
 */
function need(channel: Channel, key: keyof Channel): string {
  const v = channel[key] ?? (key === 'baseUrl' ? DEFAULT_BASE_URLS[channel.provider] : undefined);
  if (typeof v !== 'string' || v === '') {
    throw new Error(`channel ${channel.name}: provider ${channel.provider} needs ${key}`);
  }
  return v;
}

/**
 * One client per channel. The sandbox speaks the Cloud API wire format, so the Cloud adapter talks to it:
 * a dry run exercises the same code that talks to Meta.
 */
export function createClient(channel: Channel, sandbox?: SandboxEndpoint, opts: ClientOptions = {}): ProviderClient {
  switch (channel.provider) {
    case 'cloud':
      return createCloudClient({ baseUrl: channel.baseUrl!, phoneNumberId: channel.phoneNumberId!, accessToken: channel.accessToken! });
    case 'sandbox': {
      if (!sandbox) throw new Error(`channel ${channel.name}: the sandbox is not running in this process`);
      const client = createCloudClient({ baseUrl: sandbox.url, phoneNumberId: sandbox.phoneNumberId, accessToken: 'sandbox-token' });
      return { ...client, provider: 'sandbox', send: client.send.bind(client) };
    }
    case '360dialog':
      return createD360Client({ baseUrl: need(channel, 'baseUrl'), accessToken: need(channel, 'accessToken') });
    case 'bsp':
      return createBspClient({
        baseUrl: need(channel, 'baseUrl'),
        phoneNumberId: need(channel, 'phoneNumberId'),
        accessToken: need(channel, 'accessToken'),
        bspKey: need(channel, 'bspKey'),
      });
    case '360dialog-onprem':
      return createOnPremClient({
        baseUrl: need(channel, 'baseUrl'),
        accessToken: need(channel, 'accessToken'),
        namespace: need(channel, 'templateNamespace'),
      });
    case 'verihubs':
      if (!opts.publicUrl) {
        throw new Error(
          `channel ${channel.name}: provider verihubs needs PUBLIC_URL (its callback_url is built from it); pass { publicUrl } to createClient`,
        );
      }
      return createVerihubsClient({
        baseUrl: need(channel, 'baseUrl'),
        appId: need(channel, 'appId'),
        apiKey: need(channel, 'apiKey'),
        publicUrl: opts.publicUrl,
      });
  }
}
