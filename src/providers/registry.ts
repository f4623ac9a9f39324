import type { Channel } from '../config.ts';
import type { ProviderClient } from './types.ts';
import { createCloudClient } from './cloud.ts';

export interface SandboxEndpoint {
  url: string;
  phoneNumberId: string;
}

/**
 * One client per channel. The sandbox speaks the Cloud API wire format, so the Cloud adapter talks to it:
 * a dry run exercises the same code that talks to Meta.
 */
export function createClient(channel: Channel, sandbox?: SandboxEndpoint): ProviderClient {
  switch (channel.provider) {
    case 'cloud':
      return createCloudClient({ baseUrl: channel.baseUrl!, phoneNumberId: channel.phoneNumberId!, accessToken: channel.accessToken! });
    case 'sandbox': {
      if (!sandbox) throw new Error(`channel ${channel.name}: the sandbox is not running in this process`);
      const client = createCloudClient({ baseUrl: sandbox.url, phoneNumberId: sandbox.phoneNumberId, accessToken: 'sandbox-token' });
      return { ...client, provider: 'sandbox', send: client.send.bind(client) };
    }
    default:
      // 360dialog, bsp, 360dialog-onprem and verihubs adapters arrive with issue #4.
      throw new Error(`channel ${channel.name}: provider ${channel.provider} has no adapter yet (issue #4)`);
  }
}
